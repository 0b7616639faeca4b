import { describe, expect, test } from "bun:test";
import { dnsLabel, fnv1a32, isSafeIdentity, ownedByHost, unsafeReason } from "../../../src/services/identity.ts";

describe("unsafeReason", () => {
  const safe = ["web", "web-80", "host1:web1:80", "host1:web1:53:udp", "my.service", "...", "a..b", "name with space", "café", "x@y+z"];
  for (const s of safe) test(`accepts ${JSON.stringify(s)}`, () => expect(unsafeReason(s)).toBeUndefined());

  const unsafe: Array<[string, string]> = [
    ["", "it is empty"],
    ["..", '".." is a dot path segment'],
    [".", '"." is a dot path segment'],
    ["../../x", 'it contains "/"'],
    ["a/b", 'it contains "/"'],
    ["/abs", 'it contains "/"'],
    ["a//b", 'it contains "/"'],
    ["..\\..\\x", 'it contains "\\"'],
    ["%2e%2e", 'it contains "%"'],
    ["a?b", 'it contains "?"'],
    ["a#b", 'it contains "#"'],
    ["a\nb", "it contains the control character U+000A"],
    ["a\u0000b", "it contains the control character U+0000"],
    ["a\u007fb", "it contains the control character U+007F"],
    ["a\u0085b", "it contains the control character U+0085"],
    ["a\u2028b", "it contains the control character U+2028"],
    ["x".repeat(513), "it is longer than 512 characters"],
  ];
  for (const [s, why] of unsafe) test(`rejects ${JSON.stringify(s.slice(0, 20))}`, () => expect(unsafeReason(s)).toBe(why));

  test("isSafeIdentity mirrors unsafeReason", () => {
    expect(isSafeIdentity("web")).toBe(true);
    expect(isSafeIdentity("../x")).toBe(false);
  });
});

describe("dnsLabel", () => {
  const long = "a".repeat(70);
  const cases: Array<[string, string]> = [
    ["web1", "web1"],
    ["Web1", "web1"],
    ["host1:web1:80", "host1-web1-80"],
    ["host1:web1:53:udp", "host1-web1-53-udp"],
    ["a__b", "a-b"],
    ["--a--", "a"],
    ["a.b.c", "a-b-c"],
    ["café", "caf"],
    ["x".repeat(63), "x".repeat(63)],
  ];
  for (const [input, want] of cases) test(`${JSON.stringify(input)} → ${want}`, () => expect(dnsLabel(input)).toBe(want));

  test("longer than 63: first 54, '-', 8 hex of FNV-1a of the original", () => {
    const label = dnsLabel(long);
    expect(label).toBe(`${"a".repeat(54)}-${fnv1a32(long).toString(16).padStart(8, "0")}`);
    expect(label).toHaveLength(63);
    expect(label).toMatch(/^[a-z0-9-]+$/);
  });

  test("hash is of the original, so labels differing only in case/punctuation differ when long", () => {
    expect(dnsLabel(`${"A".repeat(70)}`)).not.toBe(dnsLabel(long));
  });

  test("no '--' where the cut lands on a dash", () => {
    const s = `${"a".repeat(53)}:${"b".repeat(20)}`;
    const label = dnsLabel(s);
    expect(label.startsWith(`${"a".repeat(53)}-`)).toBe(true);
    expect(label).not.toContain("--");
    expect(label).toHaveLength(62);
  });

  test("nothing left → the hash alone", () => {
    expect(dnsLabel("___")).toBe(fnv1a32("___").toString(16).padStart(8, "0"));
  });

  test("FNV-1a known vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });
});

describe("ownedByHost", () => {
  const cases: Array<[string, string, boolean]> = [
    ["host1:web1:80", "host1", true],
    ["host1:web1:53:udp", "host1", true],
    ["host2:web1:80", "host1", false],
    ["host1:web1", "host1", false],
    ["custom-id", "host1", false],
    ["host1:web1:80:tcp", "host1", false],
    ["host1:_bad:80", "host1", false],
    ["a:b:web1:80", "a:b", true],
    ["a:b:web1:80", "a", false],
    ["host1:my.web_1-x:8080", "host1", true],
  ];
  for (const [id, host, want] of cases) test(`${id} owned by ${host}: ${want}`, () => expect(ownedByHost(id, host)).toBe(want));
});
