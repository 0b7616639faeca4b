import { describe, expect, test } from "bun:test";
import { type DeriveOptions, deriveServices } from "../../../src/services/derive.ts";
import { type ContainerFilter, failingFilter, parseFilter } from "../../../src/services/filter.ts";
import { container, dualStack } from "../builders.ts";

const filter = (expr: string): ContainerFilter => {
  const f = parseFilter(expr);
  if ("error" in f) throw new Error(f.error);
  return f;
};

const app = container({
  name: "shop-api-1",
  image: "registry.example/shop/api:2.1",
  labels: { tier: "web", "com.example.team": "shop", empty: "" },
  networkMode: "backend",
  ports: { "80/tcp": dualStack("8080") },
});

describe("-filter expressions against one container", () => {
  test.each([
    ["label=tier", true],
    ["label=empty", true],
    ["label=missing", false],
    ["label=tier=web", true],
    ["label=tier=db", false],
    ["label=empty=", true],
    ["label=com.example.team=shop", true],
    ["label!=tier", false],
    ["label!=missing", true],
    ["label!=tier=web", false],
    ["label!=tier=db", true],
    ["label=constructor", false],
    ["name=api", true],
    ["name=^shop-", true],
    ["name=^api", false],
    ["name=^/shop", false],
    ["name=worker", false],
    ["network=backend", true],
    ["network=bridge", false],
    ["network=back", false],
    ["network=constructor", false],
    ["image=shop/api", true],
    ["image=:2\\.1$", true],
    ["image=^nginx", false],
  ])("%s matches: %p", (expr, matches) => {
    expect(filter(expr).test(app)).toBe(matches);
  });

  test("all must match: the first that fails is named", () => {
    const fs = ["label=tier", "name=api", "network=frontend", "image=nginx"].map(filter);
    expect(failingFilter(app, fs)?.expr).toBe("network=frontend");
    expect(failingFilter(app, fs.slice(0, 2))).toBeUndefined();
    expect(failingFilter(app, [])).toBeUndefined();
  });

  test("a container without labels, networks or image fails the positive filters", () => {
    const bare = container({ name: "bare", image: null, networkMode: "none" });
    expect(filter("label=x").test(bare)).toBe(false);
    expect(filter("label!=x").test(bare)).toBe(true);
    expect(filter("network=bridge").test(bare)).toBe(false);
    expect(filter("image=.").test(bare)).toBe(false);
  });
});

describe("invalid -filter expressions", () => {
  test.each([
    ["tier=web", /not a filter: expected label=KEY/],
    ["label", /not a filter/],
    ["Label=x", /not a filter/],
    ["label=", /names no label/],
    ["label!==v", /names no label/],
    ["name=", /needs a regular expression/],
    ["name=(", /not a valid regular expression/],
    ["image=[", /not a valid regular expression/],
    ["network=", /names no network/],
  ])("%s", (expr, message) => {
    const f = parseFilter(expr);
    expect("error" in f && f.error).toMatch(message);
  });
});

describe("derivation with -filter", () => {
  const base: DeriveOptions = { hostname: "h", defaultHostIp: "192.168.1.10", internal: false, explicit: false, allowScriptChecks: false };

  test("a matching container registers as without filters", () => {
    const r = deriveServices(app, { ...base, filters: [filter("label=tier=web"), filter("name=api")] });
    expect(r.services.map((s) => s.id)).toEqual(["h:shop-api-1:80"]);
    expect(r.ignored).toEqual([]);
  });

  test("a container left out yields no services and one ignored entry naming the filter", () => {
    const r = deriveServices(app, { ...base, filters: [filter("label=tier"), filter("label!=com.example.team=shop")] });
    expect(r).toEqual({ services: [], ignored: [{ port: "-", reason: "left out by -filter label!=com.example.team=shop" }], warnings: [], notes: [] });
  });
});
