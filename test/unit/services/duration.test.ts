import { describe, expect, test } from "bun:test";
import { isPositiveGoDuration, parseGoDuration } from "../../../src/services/duration.ts";

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
