import { describe, expect, test } from "bun:test";
import { redactSecrets } from "../../src/errors.ts";
import { createLogger, escapeControl } from "../../src/log.ts";

const capture = (opts: Parameters<typeof createLogger>[0] = {}) => {
  const lines: string[] = [];
  const log = createLogger({ ...opts, write: (l) => lines.push(l), now: () => new Date("2026-11-27T10:00:00Z") });
  return { log, lines };
};

test("text: one line per event, registrator's verbs first, fields as key=value", () => {
  const { log, lines } = capture();
  log.info("added: 0123456789ab host:web:80", { name: "web", port: 8080, tags: "a b" });
  expect(lines).toEqual(['2026-11-27T10:00:00.000Z info  added: 0123456789ab host:web:80 name=web port=8080 tags="a b"']);
});

test("json: one object per line", () => {
  const { log, lines } = capture({ format: "json" });
  log.warn("removed: x", { service: "s" });
  expect(lines.map((l) => JSON.parse(l))).toEqual([{ time: "2026-11-27T10:00:00.000Z", level: "warn", msg: "removed: x", service: "s" }]);
});

test("levels below the chosen one are dropped", () => {
  const { log, lines } = capture({ level: "warn" });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  expect(lines.map((l) => l.split(/\s+/)[2])).toEqual(["w", "e"]);
});

test("secret-looking fields are never printed, in either format", () => {
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture({ format });
    log.info("auth", { token: "s3cret", password: "hunter2", Authorization: "abc", user: "root" });
    const out = lines.join("\n");
    expect(out).not.toMatch(/s3cret|hunter2|abc/);
    expect(out).toContain("root");
  }
});

describe("text format: container data cannot forge or break a line", () => {
  const forged = "x\n2026-11-27T10:00:00.000Z info  removed: 0123456789ab host:payments:443";
  const hostile = [forged, "a\rb", "esc\u001b[31mred", "nul\u0000", "del\u007f", "c1\u0085", "ls\u2028ps\u2029", "tab\there"];

  test("messages and field values: every control character, CR/LF and U+2028/U+2029 is escaped", () => {
    const { log, lines } = capture();
    for (const h of hostile) log.warn(`Ignoring SERVICE_IGNORE "${h}"`, { value: h, [h]: "key" });
    expect(lines).toHaveLength(hostile.length);
    for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(lines[0]).toContain("x\\n2026-11-27T10:00:00.000Z info  removed:");
    expect(lines[2]).toContain("esc\\x1b[31mred");
    expect(lines[6]).toContain("ls\\u2028ps\\u2029");
  });

  test("a forged line is visibly part of the real one: one line, the real level first", () => {
    const { log, lines } = capture();
    log.info(`added: ${forged}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.split("\n")).toHaveLength(1);
    expect(lines[0]!.startsWith("2026-11-27T10:00:00.000Z info  added: x\\n")).toBe(true);
  });

  test("json format stays JSON and keeps the exact text", () => {
    const { log, lines } = capture({ format: "json" });
    for (const h of hostile) log.warn(h, { value: h });
    for (const [i, line] of lines.entries()) {
      expect(line).not.toMatch(/[\n\r]/);
      const o = JSON.parse(line);
      expect([o.msg, o.value]).toEqual([hostile[i], hostile[i]]);
    }
  });

  test("escapeControl leaves ordinary text, quotes and non-Latin letters alone", () => {
    expect(escapeControl('web "x" Zürich 東京 ✓')).toBe('web "x" Zürich 東京 ✓');
    expect(escapeControl("a\nb\u0000c")).toBe("a\\nb\\x00c");
  });

  test("field names that look like prototype members are printed like any other", () => {
    const { log, lines } = capture({ format: "json" });
    log.info("m", JSON.parse('{"__proto__": "p", "constructor": "c"}'));
    expect(JSON.parse(lines[0]!)).toMatchObject({ constructor: "c" });
    expect(lines[0]).toContain('"__proto__":"p"');
  });
});

describe("secrets in messages", () => {
  const cases: Array<[string, string]> = [
    ['Invalid registry URI "consul://admin:hunter22@10.0.0.1:8500/x"', 'Invalid registry URI "consul://admin:[redacted]@10.0.0.1:8500/x"'],
    ['Invalid registry URI "consulkv://u:p4ss@h:8500/kv"', 'Invalid registry URI "consulkv://u:[redacted]@h:8500/kv"'],
    ['Invalid registry URI "weird+scheme://only-token@h"', 'Invalid registry URI "weird+scheme://[redacted]@h"'],
    ['Invalid CONSUL_HTTP_ADDR "ops:s3cr3t@consul:8500"', 'Invalid CONSUL_HTTP_ADDR "ops:[redacted]@consul:8500"'],
    ["server said: Authorization: Basic YWRtaW46aHVudGVyMjI= rejected", "server said: Authorization: Basic [redacted] rejected"],
    ["Bearer abc.def-ghi", "Bearer [redacted]"],
    ["Cannot reach consul at http://127.0.0.1:8500", "Cannot reach consul at http://127.0.0.1:8500"],
    ["added: host:web:80 (user@example)", "added: host:web:80 (user@example)"],
  ];
  for (const [input, want] of cases) test(input, () => expect(redactSecrets(input)).toBe(want));

  test("the logger redacts messages and string fields in both formats", () => {
    for (const format of ["text", "json"] as const) {
      const { log, lines } = capture({ format });
      log.error('Cannot use "etcd://root:pw1234@h:2379"', { uri: "consul://a:zz99zz@h" });
      expect(lines.join("\n")).not.toMatch(/pw1234|zz99zz/);
    }
  });
});
