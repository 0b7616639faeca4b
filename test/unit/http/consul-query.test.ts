// Consul's query rules shared by the embedded registry and the emulator: blocking parameters,
// consistency, tags, passing, node-meta; and the ?filter= subset.
import { beforeAll, describe, expect, test } from "bun:test";
import { compileFilter, loadFilterEngine } from "../../../src/http/consul-filter.ts";
import {
  DEFAULT_WAIT_MS,
  MAX_WAIT_MS,
  QueryError,
  effectiveWaitMs,
  matchesNodeMeta,
  matchesTags,
  parseBlocking,
  parseConsistency,
  parseNodeMeta,
  parsePassing,
} from "../../../src/http/consul-query.ts";

const q = (s: string) => new URLSearchParams(s);
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof QueryError) return { status: e.status, message: e.message };
    throw e;
  }
  return undefined;
};

describe("blocking parameters", () => {
  test("empty values are ignored, as Consul's parseWait does", () => {
    expect(parseBlocking(q("index=&wait="))).toEqual({ index: 0n, waitMs: 0 });
    expect(parseBlocking(q("index=42&wait=1.5s"))).toEqual({ index: 42n, waitMs: 1500 });
  });
  test("bad values are Consul's 400s", () => {
    expect(errorOf(() => parseBlocking(q("wait=forever")))).toEqual({ status: 400, message: "Invalid wait time" });
    expect(errorOf(() => parseBlocking(q("wait=10")))).toEqual({ status: 400, message: "Invalid wait time" });
    expect(errorOf(() => parseBlocking(q("index=abc")))).toEqual({ status: 400, message: "Invalid index" });
    expect(errorOf(() => parseBlocking(q("index=-1")))).toEqual({ status: 400, message: "Invalid index" });
    expect(errorOf(() => parseBlocking(q("index=18446744073709551616")))).toEqual({ status: 400, message: "Invalid index" });
    expect(parseBlocking(q("index=18446744073709551615")).index).toBe(18446744073709551615n);
  });
  test("wait: default 5 min when absent or not positive, cap 10 min, jitter up to wait/16", () => {
    expect(effectiveWaitMs(0, () => 0)).toBe(DEFAULT_WAIT_MS);
    expect(effectiveWaitMs(-5000, () => 0)).toBe(DEFAULT_WAIT_MS);
    expect(effectiveWaitMs(60 * 60_000, () => 0)).toBe(MAX_WAIT_MS);
    expect(effectiveWaitMs(16_000, () => 0)).toBe(16_000);
    expect(effectiveWaitMs(16_000, () => 0.999999)).toBe(16_999);
  });
  test("?stale and ?consistent conflict", () => {
    expect(parseConsistency(q("stale"))).toBe("stale");
    expect(parseConsistency(q("consistent="))).toBe("consistent");
    expect(parseConsistency(q(""))).toBe("leader");
    expect(errorOf(() => parseConsistency(q("stale&consistent")))?.status).toBe(400);
  });
});

describe("tags, passing, node-meta", () => {
  test("every ?tag= must match, ignoring case", () => {
    expect(matchesTags(["Blue", "v1"], ["blue", "V1"])).toBe(true);
    expect(matchesTags(["blue"], ["blue", "v1"])).toBe(false);
    expect(matchesTags(null, [])).toBe(true);
    expect(matchesTags([], ["x"])).toBe(false);
  });
  test("?passing is a Go bool; bare means true", () => {
    expect(parsePassing(q(""))).toBe(false);
    expect(parsePassing(q("passing"))).toBe(true);
    expect(parsePassing(q("passing=1"))).toBe(true);
    expect(parsePassing(q("passing=false"))).toBe(false);
    expect(errorOf(() => parsePassing(q("passing=maybe")))?.status).toBe(400);
  });
  test("?node-meta=k:v pairs split at the first colon", () => {
    const pairs = parseNodeMeta(q("node-meta=a:b:c&node-meta=flag"));
    expect(pairs).toEqual([["a", "b:c"], ["flag", ""]]);
    expect(matchesNodeMeta(new Map([["a", "b:c"], ["flag", ""]]), pairs)).toBe(true);
    expect(matchesNodeMeta(new Map([["a", "b"]]), pairs)).toBe(false);
  });
});

describe("?filter subset", () => {
  beforeAll(() => loadFilterEngine("x matches y"));
  const entry = {
    ServiceName: "web",
    ServiceTags: ["blue", "v1"],
    ServicePort: 8080,
    ServiceEnableTagOverride: false,
    ServiceMeta: { version: "1.2", "team-name": "core" },
    Node: "host1",
  };
  const sample = { ServiceName: "", ServiceTags: [], ServicePort: 0, ServiceEnableTagOverride: false, ServiceMeta: {}, Node: "" };
  const f = (expr: string) => compileFilter(expr, sample)(entry);

  test("comparisons, membership, regex and emptiness", () => {
    expect(f('ServiceName == "web"')).toBe(true);
    expect(f("ServiceName == web")).toBe(true);
    expect(f("ServiceName != web")).toBe(false);
    expect(f("ServicePort == 8080")).toBe(true);
    expect(f("ServiceEnableTagOverride == false")).toBe(true);
    expect(f("ServiceTags contains blue")).toBe(true);
    expect(f('"v2" in ServiceTags')).toBe(false);
    expect(f('"v2" not in ServiceTags')).toBe(true);
    expect(f("ServiceTags not contains v1")).toBe(false);
    expect(f('ServiceMeta.version == "1.2"')).toBe(true);
    expect(f('ServiceMeta["team-name"] == core')).toBe(true);
    expect(f("ServiceMeta.absent == x")).toBe(false);
    expect(f("ServiceMeta.absent is empty")).toBe(true);
    expect(f("version in ServiceMeta")).toBe(true);
    expect(f("ServiceMeta is not empty")).toBe(true);
    expect(f('ServiceName matches "^w.b$"')).toBe(true);
    expect(f("Node contains ost")).toBe(true);
  });
  test("and, or, not and parentheses", () => {
    expect(f("ServiceName == web and ServiceTags contains blue")).toBe(true);
    expect(f("ServiceName == db or ServiceTags contains blue")).toBe(true);
    expect(f("not (ServiceName == db or ServiceTags contains green)")).toBe(true);
    expect(f("ServiceName == db or ServiceName == web and ServiceTags contains green")).toBe(false);
  });
  test("prototype names are plain missing keys", () => {
    expect(f("ServiceMeta.__proto__ is empty")).toBe(true);
    expect(f("constructor in ServiceMeta")).toBe(false);
  });
  test("matches is RE2, as Consul's (Go's regexp): patterns JavaScript would backtrack on are valid and linear", async () => {
    await loadFilterEngine("x matches y");
    // Raw `backquoted` values: the pattern reaches the regular expression as written.
    const m = (re: string, name: string) => compileFilter(`ServiceName matches \`${re}\``, sample)({ ...entry, ServiceName: name });
    expect(m("^(web|api)+$", "webapiweb")).toBe(true);
    expect(m("^(web|api)+$", "webdb")).toBe(false);
    expect(m("(?i)^WEB$", "web")).toBe(true);
    expect(m("\\d+", "db-12")).toBe(true);
    // Exponential for a backtracking engine (2^n paths); RE2 answers in one pass. No timing
    // assertion: were it backtracking, this test would not finish at all.
    for (const re of ["^(a+)+$", "^(a|aa)*$", "^((a*))*$", "(\\w{2,})+!"]) expect(m(re, `${"a".repeat(50_000)}b`)).toBe(false);
  });
  test("RE2-invalid syntax (backreferences, lookaround, bad repeats) is a 400 naming the pattern", async () => {
    await loadFilterEngine("x matches y");
    for (const re of ["(a)\\1", "(?=a)b", "(?<=a)b", "(?!a)b", "a++", "x{2,1001}", "["]) {
      const e = errorOf(() => compileFilter(`ServiceName matches \`${re}\``, sample));
      expect({ re, status: e?.status }).toEqual({ re, status: 400 });
      expect(e?.message).toContain(`"${re}" is not a valid regular expression: error parsing regexp`);
    }
  });
  test("anything outside the subset is a 400 naming the problem", () => {
    expect(errorOf(() => compileFilter("Bogus == 1", sample))).toMatchObject({ status: 400 });
    expect(errorOf(() => compileFilter("Bogus == 1", sample))?.message).toContain('selector "Bogus" is not valid');
    expect(errorOf(() => compileFilter("ServiceTags == blue", sample))?.message).toContain("contains");
    expect(errorOf(() => compileFilter("ServiceName ~= web", sample))?.status).toBe(400);
    expect(errorOf(() => compileFilter("(ServiceName == web", sample))?.status).toBe(400);
    expect(errorOf(() => compileFilter('ServiceName == "web', sample))?.message).toContain("unterminated");
    expect(errorOf(() => compileFilter("ServicePort == http", sample))?.message).toContain("not a number");
    expect(errorOf(() => compileFilter("ServiceName matches \"(\"", sample))?.message).toContain("regular expression");
    expect(errorOf(() => compileFilter("", sample))?.status).toBe(400);
    expect(errorOf(() => compileFilter('ServiceName matches "\\d+"', sample))?.message).toContain('invalid escape "\\d"');
    expect(typeof compileFilter('ServiceName matches "\\\\d+"', sample)).toBe("function");
  });
});
