// The emulator's own query rules (test/support/consul/query.ts, filter.ts), from Consul's code:
// parseWait, the blocking timeout, tag matching, ?passing, and the go-bexpr subset of ?filter=.

import { describe, expect, test } from "bun:test";
import { compileFilter } from "../../support/consul/filter.ts";
import { HttpError } from "../../support/consul/http.ts";
import { DEFAULT_WAIT_MS, MAX_WAIT_MS, blockingTimeoutMs, hasAllTags, parseWaitQuery, passingOnly } from "../../support/consul/query.ts";

const q = (s: string) => new URLSearchParams(s);
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return [e.status, e.message];
    throw e;
  }
  return undefined;
};

describe("blocking parameters", () => {
  test("empty values are skipped; wait is a Go duration, index an unsigned 64-bit integer", () => {
    expect(parseWaitQuery(q("wait=&index="))).toEqual({ index: 0n, waitMs: 0 });
    expect(parseWaitQuery(q("wait=1m30s&index=18446744073709551615"))).toEqual({ index: 18446744073709551615n, waitMs: 90_000 });
    expect(refusal(() => parseWaitQuery(q("index=18446744073709551616")))).toEqual([400, "Invalid index"]);
    expect(refusal(() => parseWaitQuery(q("index=+5")))).toEqual([400, "Invalid index"]);
    expect(refusal(() => parseWaitQuery(q("wait=5")))).toEqual([400, "Invalid wait time"]);
  });

  test("the timeout: capped at 10m, 5m when absent or not positive, plus up to wait/16", () => {
    expect(blockingTimeoutMs(0, () => 0)).toBe(DEFAULT_WAIT_MS);
    expect(blockingTimeoutMs(-1, () => 0)).toBe(DEFAULT_WAIT_MS);
    expect(blockingTimeoutMs(3_600_000, () => 0)).toBe(MAX_WAIT_MS);
    expect(blockingTimeoutMs(16_000, () => 0.9999)).toBe(16_999);
  });
});

describe("tags and passing", () => {
  test("every asked tag, ignoring case; no tags asked matches anything", () => {
    expect(hasAllTags(["Prod", "v1"], ["prod", "V1"])).toBe(true);
    expect(hasAllTags(["prod"], ["prod", "v1"])).toBe(false);
    expect(hasAllTags(null, [])).toBe(true);
  });

  test("?passing: bare or empty is true, Go's ParseBool spellings, anything else a 400", () => {
    expect(passingOnly(q(""))).toBe(false);
    expect(passingOnly(q("passing"))).toBe(true);
    expect(passingOnly(q("passing=T"))).toBe(true);
    expect(passingOnly(q("passing=0"))).toBe(false);
    expect(refusal(() => passingOnly(q("passing=yes")))).toEqual([400, "Invalid value for ?passing"]);
    expect(refusal(() => passingOnly(q("passing=constructor")))).toEqual([400, "Invalid value for ?passing"]);
  });
});

describe("?filter=", () => {
  const entry = {
    Service: { ID: "w1", Tags: ["blue", "v1"], Meta: { version: "2" }, Port: 8080, EnableTagOverride: false },
    Checks: [
      { CheckID: "serfHealth", Status: "passing" },
      { CheckID: "service:w1", Status: "critical" },
    ],
  };
  const matches = (expr: string) => compileFilter(expr, entry)(entry);

  test("equality on strings, numbers and booleans", () => {
    expect(matches('Service.ID == "w1"')).toBe(true);
    expect(matches("Service.ID != w1")).toBe(false);
    expect(matches("Service.Port == 8080")).toBe(true);
    expect(matches("Service.EnableTagOverride == false")).toBe(true);
  });

  test("in / contains on lists, map keys and strings; is empty", () => {
    expect(matches("blue in Service.Tags")).toBe(true);
    expect(matches("red not in Service.Tags")).toBe(true);
    expect(matches("Service.Tags contains v1")).toBe(true);
    expect(matches("version in Service.Meta")).toBe(true);
    expect(matches("Service.ID contains w")).toBe(true);
    expect(matches("Service.Meta.missing is empty")).toBe(true);
    expect(matches("Service.Tags is not empty")).toBe(true);
  });

  test("a selector through a list is true when any element matches", () => {
    expect(matches("Checks.Status == critical")).toBe(true);
    expect(matches("Checks.Status == warning")).toBe(false);
  });

  test("matches, and/or/not and parentheses", () => {
    expect(matches('Service.ID matches "^w[0-9]$"')).toBe(true);
    expect(matches('Service.ID not matches "^x"')).toBe(true);
    expect(matches("not (blue in Service.Tags) or Service.Port == 8080 and Service.ID == w1")).toBe(true);
    expect(matches("(Service.ID == w2 or Service.ID == w1) and not Service.Tags is empty")).toBe(true);
  });

  test("a selector naming no field is refused before evaluation, as are malformed expressions", () => {
    for (const expr of ['NoSuchField == "x"', "Service.Nope == 1", 'Service.ID ==', "Service.ID equals w1", '"unterminated', "(Service.ID == w1"]) {
      const r = refusal(() => compileFilter(expr, entry));
      expect({ expr, status: r?.[0] }).toEqual({ expr, status: 400 });
    }
  });
});
