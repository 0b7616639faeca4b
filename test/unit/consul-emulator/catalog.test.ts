// Catalog and health reads (protocols.md 2.5) and blocking queries (2.6).

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { before, blockedAt, call, register } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator({ nodeName: "node-a" });
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const indexOf = (r: { headers: Headers }) => Number(r.headers.get("X-Consul-Index"));

describe("status and self", () => {
  test("GET /v1/status/leader is a JSON string", async () => {
    const r = await call(emu, "GET", "/v1/status/leader");
    expect(r).toMatchObject({ status: 200, text: '"127.0.0.1:8300"' });
    expect(r.headers.get("Content-Type")).toBe("application/json");
  });

  test("GET /v1/agent/self names the node, datacenter and version", async () => {
    const self = (await call(emu, "GET", "/v1/agent/self")).json<{ Config: Record<string, unknown> }>();
    expect(self.Config).toMatchObject({ NodeName: "node-a", Datacenter: "dc1", Version: "1.21.4", Server: true });
  });
});

describe("catalog", () => {
  test("GET /v1/catalog/services: name → union of tags, consul included", async () => {
    await register(emu, { Name: "web", ID: "w1", Tags: ["v1", "prod"] });
    await register(emu, { Name: "web", ID: "w2", Tags: ["v2"] });
    await register(emu, { Name: "db", ID: "d1" });
    const r = await call(emu, "GET", "/v1/catalog/services");
    expect(r.json()).toEqual({ consul: [], db: [], web: ["prod", "v1", "v2"] });
    expect(r.headers.get("X-Consul-KnownLeader")).toBe("true");
  });

  test("GET /v1/catalog/service/<name> has the documented shape", async () => {
    await register(emu, { Name: "web", ID: "w1", Tags: ["v1"], Address: "10.0.0.2", Port: 8080, Meta: { a: "b" } });
    await register(emu, { Name: "web", ID: "w2", Port: 8081 });
    const list = (await call(emu, "GET", "/v1/catalog/service/web")).json<Array<Record<string, unknown>>>();
    expect(list.map((s) => s.ServiceID)).toEqual(["w1", "w2"]);
    expect(list[0]).toMatchObject({
      Node: "node-a",
      Address: "127.0.0.1",
      Datacenter: "dc1",
      ServiceID: "w1",
      ServiceName: "web",
      ServiceAddress: "10.0.0.2",
      ServicePort: 8080,
      ServiceTags: ["v1"],
      ServiceMeta: { a: "b" },
      ServiceWeights: { Passing: 1, Warning: 1 },
      ServiceEnableTagOverride: false,
      ServiceTaggedAddresses: { lan_ipv4: { Address: "10.0.0.2", Port: 8080 }, wan_ipv4: { Address: "10.0.0.2", Port: 8080 } },
    });
    expect(typeof list[0]?.ID).toBe("string");
    expect(typeof list[0]?.CreateIndex).toBe("number");
    // An empty ServiceAddress means "use the node Address"; no tags is [], not null.
    expect(list[1]).toMatchObject({ ServiceAddress: "", ServiceTags: [], ServiceMeta: null });
  });

  test("?tag= filters case-insensitively; several tags must all match", async () => {
    await register(emu, { Name: "web", ID: "w1", Tags: ["Prod", "v1"] });
    await register(emu, { Name: "web", ID: "w2", Tags: ["prod"] });
    const ids = async (q: string) => (await call(emu, "GET", `/v1/catalog/service/web${q}`)).json<Array<{ ServiceID: string }>>().map((s) => s.ServiceID);
    expect(await ids("?tag=prod")).toEqual(["w1", "w2"]);
    expect(await ids("?tag=prod&tag=V1")).toEqual(["w1"]);
    expect(await ids("?tag=none")).toEqual([]);
  });

  test("an unknown service is [] with 200", async () => {
    const r = await call(emu, "GET", "/v1/catalog/service/nothing");
    expect(r).toMatchObject({ status: 200, text: "[]" });
  });

  test("the consul service itself is listed", async () => {
    const list = (await call(emu, "GET", "/v1/catalog/service/consul")).json<Array<Record<string, unknown>>>();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ ServiceID: "consul", ServicePort: 8300 });
  });

  test("GET /v1/health/service/<name>: node, service and checks; ?passing filters", async () => {
    await register(emu, { Name: "web", ID: "ok", Check: { TTL: "30s", Status: "passing" } });
    await register(emu, { Name: "web", ID: "bad", Check: { TTL: "30s" } });
    const all = (await call(emu, "GET", "/v1/health/service/web")).json<Array<{ Service: { ID: string }; Checks: Array<{ CheckID: string; Status: string }> }>>();
    expect(all.map((e) => e.Service.ID)).toEqual(["bad", "ok"]);
    expect(all[1]?.Checks.map((c) => [c.CheckID, c.Status])).toEqual([["serfHealth", "passing"], ["service:ok", "passing"]]);
    const passing = (await call(emu, "GET", "/v1/health/service/web?passing")).json<Array<{ Service: { ID: string } }>>();
    expect(passing.map((e) => e.Service.ID)).toEqual(["ok"]);
  });

  test("?filter uses registrator's subset of Consul's expressions; a selector outside the endpoint's fields is a 400", async () => {
    await register(emu, { Name: "web", ID: "w1", Tags: ["blue"] });
    await register(emu, { Name: "web", ID: "w2", Tags: ["green"] });
    const f = (expr: string) => `filter=${encodeURIComponent(expr)}`;
    const ids = (r: { json<T>(): T }) => r.json<Array<{ ServiceID?: string; Service?: { ID: string } }>>().map((e) => e.ServiceID ?? e.Service!.ID);
    expect(ids(await call(emu, "GET", `/v1/catalog/service/web?${f("ServiceTags contains blue")}`))).toEqual(["w1"]);
    expect(ids(await call(emu, "GET", `/v1/health/service/web?${f('Service.ID == "w2"')}`))).toEqual(["w2"]);
    expect(Object.keys((await call(emu, "GET", `/v1/agent/services?${f("Tags contains green")}`)).json<object>())).toEqual(["w2"]);
    expect(Object.keys((await call(emu, "GET", `/v1/catalog/services?${f("ServiceName == consul")}`)).json<object>())).toEqual(["consul"]);
    for (const path of ["/v1/agent/services", "/v1/agent/checks", "/v1/catalog/services", "/v1/catalog/service/web", "/v1/health/service/web"]) {
      const r = await call(emu, "GET", `${path}?${f('NoSuchField == "web"')}`);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
    }
  });

  test("agent/services is not the catalog: no consul service there", async () => {
    expect((await call(emu, "GET", "/v1/agent/services")).json()).toEqual({});
  });

  test("GET /v1/agent/service/<id> returns one service with a ContentHash; unknown → 404", async () => {
    await register(emu, { Name: "web", ID: "w1" });
    const r = await call(emu, "GET", "/v1/agent/service/w1");
    expect(r.json()).toMatchObject({ ID: "w1", Service: "web", ContentHash: r.headers.get("X-Consul-ContentHash") });
    expect(await call(emu, "GET", "/v1/agent/service/nope")).toMatchObject({ status: 404, text: "unknown service ID: nope" });
  });
});

describe("blocking queries", () => {
  test("X-Consul-Index is never 0", async () => {
    const r = await call(emu, "GET", "/v1/kv/none?recurse");
    expect(r.status).toBe(404);
    expect(indexOf(r)).toBeGreaterThanOrEqual(1);
  });

  test("returns on change with a higher index", async () => {
    const first = await call(emu, "GET", "/v1/catalog/services");
    const idx = indexOf(first);
    // A 10-minute wait: an answer before the deadline can only be the change waking it.
    const pending = call(emu, "GET", `/v1/catalog/services?index=${idx}&wait=10m`);
    await blockedAt(emu, "/v1/catalog/services");
    await register(emu, { Name: "late" });
    const r = await before(pending, 10_000, "a blocking query after a change");
    expect(indexOf(r)).toBeGreaterThan(idx);
    expect(r.json()).toHaveProperty("late");
  });

  // The jitter's bound is query.test.ts's (blockingTimeoutMs): here, that the wait is held at all.
  test("holds the query for the wait when nothing changes, then answers the same index", async () => {
    const idx = indexOf(await call(emu, "GET", "/v1/catalog/service/web"));
    const started = Date.now();
    const r = await call(emu, "GET", `/v1/catalog/service/web?index=${idx}&wait=300ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(indexOf(r)).toBe(idx);
  });

  test("a per-service query wakes for that service (and its checks), not for others", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s" } });
    const idx = indexOf(await call(emu, "GET", "/v1/health/service/web"));
    const pending = call(emu, "GET", `/v1/health/service/web?index=${idx}&wait=10m`);
    await blockedAt(emu, "/v1/health/service/web");
    await register(emu, { Name: "other" });
    expect(emu.requests.find((q) => q.path === "/v1/health/service/web" && q.rawQuery.includes("index="))?.status).toBe(0);
    await call(emu, "PUT", "/v1/agent/check/pass/service:web");
    const r = await before(pending, 10_000, "a per-service blocking query after its check changed");
    expect(indexOf(r)).toBeGreaterThan(idx);
    expect(r.json<Array<{ Checks: Array<{ Status: string }> }>>()[0]?.Checks[1]?.Status).toBe("passing");
  });

  test("index 0 or no index does not block", async () => {
    // Under a 10-minute wait, an answer before the deadline means the query did not block.
    await before(call(emu, "GET", "/v1/catalog/services?index=0&wait=10m"), 10_000, "?index=0");
    await before(call(emu, "GET", "/v1/catalog/services?wait=10m"), 10_000, "no ?index");
  });

  test.each([
    ["wait=10", "Invalid wait time"],
    ["wait=abc", "Invalid wait time"],
    ["index=-1", "Invalid index"],
    ["index=1.5", "Invalid index"],
    ["index=abc&wait=x", "Invalid wait time"],
  ])("?%s → 400 %s", async (q, text) => {
    for (const path of ["/v1/catalog/services", "/v1/catalog/service/web", "/v1/health/service/web", "/v1/kv/k"]) {
      const r = await call(emu, "GET", `${path}?${q}`);
      expect({ path, status: r.status, text: r.text }).toEqual({ path, status: 400, text });
    }
  });

  test("agent/service/<id>?hash= blocks until the service changes", async () => {
    await register(emu, { Name: "web", ID: "w1", Port: 1 });
    const hash = (await call(emu, "GET", "/v1/agent/service/w1")).headers.get("X-Consul-ContentHash");
    const pending = call(emu, "GET", `/v1/agent/service/w1?hash=${hash}&wait=10m`);
    await blockedAt(emu, "/v1/agent/service/w1");
    await register(emu, { Name: "web", ID: "w1", Port: 2 });
    const r = await before(pending, 10_000, "a hash-blocking query after a change");
    expect(r.json()).toMatchObject({ Port: 2 });
    expect(r.headers.get("X-Consul-ContentHash")).not.toBe(hash);
  });

  test("after a restart indexes start low again (clients must reset when it goes backwards)", async () => {
    for (let i = 0; i < 5; i++) await register(emu, { Name: `s${i}` });
    const before = indexOf(await call(emu, "GET", "/v1/catalog/services"));
    await emu.restart();
    const after = indexOf(await call(emu, "GET", "/v1/catalog/services"));
    expect(after).toBeLessThan(before);
  });
});
