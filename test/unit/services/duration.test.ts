import { describe, expect, test } from "bun:test";
import { isPositiveGoDuration, parseGoDuration, parseGoDurationNs } from "../../../src/services/duration.ts";
import { parseGoDuration as emulatorParse } from "../../support/consul/goduration.ts";

describe("parseGoDuration (Go time.ParseDuration syntax)", () => {
  const valid: Array<[string, number]> = [
    ["0", 0],
    ["-0", 0],
    ["+0", 0],
    ["0s", 0],
    ["300ms", 300e6],
    ["10s", 10e9],
    ["1.5h", 1.5 * 3600e9],
    ["2h45m", (2 * 60 + 45) * 60e9],
    ["1h2m3s4ms5us6ns", 3600e9 + 120e9 + 3e9 + 4e6 + 5e3 + 6],
    ["1\u00b5s", 1e3],
    ["1\u03bcs", 1e3],
    [".5s", 0.5e9],
    ["5.s", 5e9],
    ["-1.5h", -1.5 * 3600e9],
    ["+10s", 10e9],
    ["1m1m", 120e9],
  ];
  for (const [s, ns] of valid) test(`${JSON.stringify(s)} = ${ns} ns`, () => expect(parseGoDuration(s)).toBe(ns));

  const invalid = ["", "10", "1.5", "s", ".", ".s", "-", "+", "10 s", " 10s", "10S", "10sec", "1d", "1w", "1.2.3s", "5s5", "abc", "3000000h", "1e3s", "constructor", "5constructor", "NaN"];
  for (const s of invalid) test(`${JSON.stringify(s)} is invalid`, () => expect(parseGoDuration(s)).toBeUndefined());
});

describe("isPositiveGoDuration", () => {
  const cases: Array<[string, boolean]> = [
    ["10s", true],
    ["1ns", true],
    ["0", false],
    ["0s", false],
    ["-10s", false],
    ["ten", false],
  ];
  for (const [s, want] of cases) test(`${s}: ${want}`, () => expect(isPositiveGoDuration(s)).toBe(want));
});

describe("Go's limits, exactly", () => {
  const cases: Array<[string, bigint | undefined]> = [
    ["9999999999h", undefined],
    ["2562047h", 2562047n * 3_600_000_000_000n],
    ["2562048h", undefined],
    ["9223372036854775807ns", 9223372036854775807n],
    ["9223372036854775808ns", undefined],
    ["-9223372036854775808ns", -9223372036854775808n],
    ["-9223372036854775809ns", undefined],
    ["2562047h47m16.854775807s", 9223372036854775807n],
    ["2562047h47m16.854775808s", undefined],
    ["-2562047h47m16.854775808s", -9223372036854775808n],
    ["0.000000000000000000000000000001s", 0n],
    [`1.${"9".repeat(40)}s`, 2_000_000_000n], // float64 rounding, as Go,
    [`${"0".repeat(40)}1s`, 1_000_000_000n],
    [`${"9".repeat(100_000)}s`, undefined],
  ];
  for (const [s, want] of cases) {
    test(`${s.length > 50 ? `${s.slice(0, 20)}… (${s.length} chars)` : s} → ${want ?? "invalid"}`, () => expect(parseGoDurationNs(s)).toBe(want));
  }

  test("agrees with the Consul emulator's independent port of Go on 5,000 generated strings", () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pieces = ["0", "1", "9", "00", "922337203685477580", "9223372036854775808", "2562047", ".", ".5", "h", "m", "s", "ms", "us", "\u00b5s", "ns", "x", "-", "+", "47", "16.854775807"];
    let compared = 0;
    for (let i = 0; i < 5000; i++) {
      let s = "";
      for (let k = rnd(6) + 1; k > 0; k--) s += pieces[rnd(pieces.length)];
      let want: bigint | undefined;
      try {
        want = emulatorParse(s);
      } catch {
        want = undefined;
      }
      expect([s, parseGoDurationNs(s)]).toEqual([s, want]);
      compared++;
    }
    expect(compared).toBe(5000);
  });
});
