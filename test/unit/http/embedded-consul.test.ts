// The embedded registry's Consul API on an in-process Hono app: indexes (monotonic, per service),
// blocking, shapes, tags, passing with the Docker health mirror, filters, prototype names, 404s.
import { describe, expect, test } from "bun:test";
import { hostGuard, hostOf } from "../../../src/http/host-guard.ts";
import { LocalCatalog, LocalRegistry } from "../../../src/registries/local.ts";
import { catalogApp, svc } from "./catalog-support.ts";

function api(catalog = new LocalCatalog(), o: { synced?: Promise<void>; syncWaitMs?: number; nodeAddress?: () => string } = {}) {
  const app = catalogApp(catalog, o);
  const get = async (path: string, init?: RequestInit) => {
    const res = await app.request(path, init);
    const body = await res.text();
    return { status: res.status, index: Number(res.headers.get("X-Consul-Index")), headers: res.headers, text: body, json: () => JSON.parse(body) };
  };
  return { catalog, registry: new LocalRegistry(catalog), get };
}

describe("indexes", () => {
  test("start from the clock and never go backwards across a restart", () => {
    let now = 1_000_000;
    const before = new LocalCatalog(() => now);
    for (let i = 0; i < 50; i++) before.set(svc(`s${i}`, "web"));
    const last = before.index;
    // Restarted within the same clock tick: the new catalog starts above every index handed out
    // only when the clock moved; it did (restarts take time), and indexes are microseconds.
    now += 1000;
    const after = new LocalCatalog(() => now);
    expect(after.startIndex).toBeGreaterThan(last);
  });
  test("a service's index moves only with that service; an identical upsert moves nothing", () => {
    const c = new LocalCatalog(() => 5);
    c.set(svc("a1", "a"));
    c.set(svc("b1", "b"));
    const a = c.nameIndex("a");
    const b = c.nameIndex("b");
    c.set(svc("b1", "b", { port: 9090 }));
    expect(c.nameIndex("a")).toBe(a);
    expect(c.nameIndex("b")).toBeGreaterThan(b);
    const idx = c.index;
    c.set(svc("b1", "b", { port: 9090 }));
    expect(c.index).toBe(idx);
    c.delete("b1");
    expect(c.nameIndex("b")).toBeGreaterThan(idx);
    expect(c.servicesIndex).toBe(c.index);
  });
  test("instances by name follow renames and deletions", () => {
    const c = new LocalCatalog(() => 5);
    c.set(svc("x1", "a"));
    c.set(svc("x2", "a"));
    c.set(svc("x1", "b"));
    expect([...c.instancesOf("a")].map((e) => e.service.id)).toEqual(["x2"]);
    expect([...c.instancesOf("b")].map((e) => e.service.id)).toEqual(["x1"]);
    c.delete("x2");
    expect([...c.instancesOf("a")]).toEqual([]);
    c.setHealth("x1", { status: "critical", output: "" });
    expect([...c.instancesOf("b")][0]!.service.mirror?.status).toBe("critical");
  });
  test("a health change moves the service's index, not the service list's", () => {
    const c = new LocalCatalog(() => 5);
    c.set(svc("a1", "a"));
    const list = c.servicesIndex;
    c.setHealth("a1", { status: "critical", output: "probe failed" });
    expect(c.servicesIndex).toBe(list);
    expect(c.nameIndex("a")).toBeGreaterThan(list);
    expect(c.services.get("a1")!.modifyIndex).toBe(list);
  });
});

describe("blocking queries", () => {
  test("a watcher of one service is not woken by another; it returns when its own changes", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "a"));
    await registry.register(svc("b1", "b"));
    const first = await get("/v1/catalog/service/a");
    let done = false;
    const blocked = get(`/v1/catalog/service/a?index=${first.index}&wait=30s`).then((r) => ((done = true), r));
    await registry.register(svc("b2", "b"));
    await Bun.sleep(0);
    expect(done).toBe(false);
    await registry.register(svc("a2", "a"));
    const res = await blocked;
    expect(res.index).toBeGreaterThan(first.index);
    expect(res.json().map((e: { ServiceID: string }) => e.ServiceID)).toEqual(["a1", "a2"]);
  });
  test("an index from before a restart (lower) returns at once", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "a"));
    const res = await get("/v1/catalog/service/a?index=1&wait=30s");
    expect(res.status).toBe(200);
    expect(res.json()).toHaveLength(1);
    expect(res.headers.get("X-Consul-KnownLeader")).toBe("true");
    expect(res.headers.get("X-Consul-LastContact")).toBe("0");
  });
  test("empty index and wait values are ignored; bad ones are 400", async () => {
    const { get } = api();
    expect((await get("/v1/catalog/services?index=&wait=")).status).toBe(200);
    expect(await get("/v1/catalog/services?index=1&wait=forever")).toMatchObject({ status: 400, text: "Invalid wait time" });
    expect(await get("/v1/catalog/services?index=x")).toMatchObject({ status: 400, text: "Invalid index" });
  });
  test("reads wait for the first Docker sync instead of answering an empty catalog", async () => {
    let synced = () => {};
    const { registry, get } = api(new LocalCatalog(), { synced: new Promise<void>((r) => (synced = r)) });
    const pending = get("/v1/catalog/services");
    await registry.register(svc("a1", "a"));
    synced();
    expect(Object.keys((await pending).json())).toEqual(["a"]);
    // agent/self does not wait: clients read the datacenter from it first.
    const never = api(new LocalCatalog(), { synced: new Promise<void>(() => {}), syncWaitMs: 50 });
    expect((await never.get("/v1/agent/self")).status).toBe(200);
    expect((await never.get("/v1/catalog/services")).status).toBe(503);
  });
});

describe("shapes and filters", () => {
  test("SERVICE_WEIGHT_PASSING / _WARNING are served as Weights / ServiceWeights", async () => {
    const { registry, get } = api();
    await registry.register(svc("w1", "weighted", { weights: { passing: 10, warning: 0 } }));
    expect((await get("/v1/catalog/service/weighted")).json()[0].ServiceWeights).toEqual({ Passing: 10, Warning: 0 });
    expect((await get("/v1/agent/services")).json().w1.Weights).toEqual({ Passing: 10, Warning: 0 });
    expect((await get("/v1/health/service/weighted")).json()[0].Service.Weights).toEqual({ Passing: 10, Warning: 0 });
  });

  test("catalog and health entries in Consul's shapes with this node", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "web", { tags: ["Blue", "v1"], attrs: { version: "2" } }));
    const [entry] = (await get("/v1/catalog/service/web")).json();
    expect(entry).toMatchObject({
      Node: "host1",
      Address: "10.0.0.5",
      Datacenter: "dc1",
      ServiceID: "a1",
      ServiceName: "web",
      ServiceTags: ["Blue", "v1"],
      ServiceAddress: "10.0.0.5",
      ServicePort: 8080,
      ServiceMeta: { version: "2" },
      ServiceWeights: { Passing: 1, Warning: 1 },
      ServiceTaggedAddresses: { lan_ipv4: { Address: "10.0.0.5", Port: 8080 }, wan_ipv4: { Address: "10.0.0.5", Port: 8080 } },
    });
    expect(entry.ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(entry.CreateIndex).toBeGreaterThan(0);
    const self = (await get("/v1/agent/self")).json();
    expect(self.Config).toMatchObject({ Datacenter: "dc1", NodeName: "host1", NodeID: entry.ID });
    expect(self.Member.Name).toBe("host1");
    expect((await get("/v1/status/leader")).json()).toBe("10.0.0.5:8300");
    expect((await get("/v1/catalog/datacenters")).json()).toEqual(["dc1"]);
    expect((await get("/v1/catalog/nodes")).json()).toMatchObject([{ Node: "host1", ID: entry.ID, Address: "10.0.0.5" }]);
    expect((await get("/v1/catalog/node/host1")).json().Services.a1).toMatchObject({ Service: "web", Port: 8080 });
    expect((await get("/v1/agent/services")).json().a1).toMatchObject({ Service: "web", Datacenter: "dc1" });
  });
  test("the node's address is read on each answer, so it follows -ip eth0 when the interface's address changes", async () => {
    let address = "10.0.0.5";
    const { registry, get } = api(undefined, { nodeAddress: () => address });
    await registry.register(svc("a1", "web"));
    expect((await get("/v1/catalog/nodes")).json()).toMatchObject([{ Node: "host1", Address: "10.0.0.5" }]);
    address = "10.9.9.9";
    expect((await get("/v1/catalog/nodes")).json()).toMatchObject([{ Node: "host1", Address: "10.9.9.9", TaggedAddresses: { lan: "10.9.9.9" } }]);
    expect((await get("/v1/catalog/service/web")).json()).toMatchObject([{ Address: "10.9.9.9" }]);
    expect((await get("/v1/health/service/web")).json()[0].Node).toMatchObject({ Address: "10.9.9.9" });
    expect((await get("/v1/status/leader")).json()).toBe("10.9.9.9:8300");
  });
  test("every ?tag= must match, ignoring case", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "web", { tags: ["Blue", "v1"] }));
    await registry.register(svc("a2", "web", { tags: ["blue"] }));
    const ids = async (p: string) => (await get(p)).json().map((e: { ServiceID?: string; Service?: { ID: string } }) => e.ServiceID ?? e.Service!.ID);
    expect(await ids("/v1/catalog/service/web?tag=BLUE&tag=v1")).toEqual(["a1"]);
    expect(await ids("/v1/health/service/web?tag=blue")).toEqual(["a1", "a2"]);
    expect((await get("/v1/catalog/services?tag=v1")).json()).toEqual({ web: ["Blue", "v1"] });
  });
  test("?passing leaves out a service whose Docker health mirror is critical", async () => {
    const { registry, get } = api();
    await registry.register(svc("ok", "web", { mirror: { status: "passing", output: "HTTP 200" } }));
    await registry.register(svc("sick", "web", { mirror: { status: "critical", output: "HTTP 500" } }));
    await registry.register(svc("plain", "web"));
    const all = (await get("/v1/health/service/web")).json();
    expect(all).toHaveLength(3);
    const sick = all.find((e: { Service: { ID: string } }) => e.Service.ID === "sick");
    expect(sick.Checks.map((c: { CheckID: string; Status: string }) => [c.CheckID, c.Status])).toEqual([
      ["serfHealth", "passing"],
      ["registrator:sick:docker-health", "critical"],
    ]);
    expect(sick.Checks[1]).toMatchObject({ Type: "ttl", Output: "HTTP 500", ServiceName: "web", ServiceID: "sick" });
    const passing = (await get("/v1/health/service/web?passing")).json();
    expect(passing.map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["ok", "plain"]);
    const checks = (await get("/v1/agent/checks")).json();
    expect(Object.keys(checks)).toEqual(["registrator:ok:docker-health", "registrator:sick:docker-health"]);
    // The mirror turns healthy: the service is back in ?passing.
    await registry.setHealth(svc("sick", "web", { mirror: { status: "passing", output: "HTTP 200" } }));
    expect((await get("/v1/health/service/web?passing=1")).json()).toHaveLength(3);
    await expect(registry.setHealth(svc("gone", "web", { mirror: { status: "passing", output: "" } }))).rejects.toMatchObject({ status: 404 });
  });
  test("health/checks, health/node, health/state and agent/members", async () => {
    const { registry, get } = api();
    await registry.register(svc("ok", "web", { mirror: { status: "passing", output: "fine" } }));
    await registry.register(svc("sick", "web", { mirror: { status: "critical", output: "HTTP 500" } }));
    await registry.register(svc("db1", "db"));
    const ids = (list: Array<{ CheckID: string }>) => list.map((c) => c.CheckID);
    expect(ids((await get("/v1/health/checks/web")).json())).toEqual(["registrator:ok:docker-health", "registrator:sick:docker-health"]);
    expect((await get("/v1/health/checks/db")).json()).toEqual([]);
    expect(ids((await get("/v1/health/node/host1")).json())).toEqual(["serfHealth", "registrator:ok:docker-health", "registrator:sick:docker-health"]);
    expect((await get("/v1/health/node/other")).json()).toEqual([]);
    expect(ids((await get("/v1/health/state/critical")).json())).toEqual(["registrator:sick:docker-health"]);
    expect(ids((await get("/v1/health/state/passing")).json())).toEqual(["serfHealth", "registrator:ok:docker-health"]);
    expect(ids((await get("/v1/health/state/any")).json())).toHaveLength(3);
    expect(await get("/v1/health/state/bogus")).toMatchObject({ status: 400, text: "Bad check state" });
    expect(ids((await get(`/v1/health/state/any?filter=${encodeURIComponent('ServiceName == "web" and Status == critical')}`)).json())).toEqual([
      "registrator:sick:docker-health",
    ]);
    expect((await get("/v1/agent/members")).json()).toMatchObject([{ Name: "host1", Addr: "10.0.0.5", Status: 1 }]);
  });
  test("?filter and ?node-meta filter on the fields served; unsupported → 400", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "web", { tags: ["blue"], attrs: { version: "2" } }));
    await registry.register(svc("a2", "web", { tags: ["green"], attrs: { version: "3" } }));
    const ids = async (p: string) => (await get(p)).json().map((e: { ServiceID?: string; Service?: { ID: string } }) => e.ServiceID ?? e.Service!.ID);
    expect(await ids(`/v1/catalog/service/web?filter=${encodeURIComponent('ServiceMeta.version == "3"')}`)).toEqual(["a2"]);
    expect(await ids(`/v1/health/service/web?filter=${encodeURIComponent("Service.Tags contains blue")}`)).toEqual(["a1"]);
    expect(await ids("/v1/catalog/service/web?node-meta=consul-network-segment:")).toEqual(["a1", "a2"]);
    expect(await ids("/v1/catalog/service/web?node-meta=rack:r1")).toEqual([]);
    const bad = await get(`/v1/catalog/service/web?filter=${encodeURIComponent("Nope == 1")}`);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('"Nope"');
    expect(Object.keys((await get(`/v1/agent/services?filter=${encodeURIComponent("Tags contains green")}`)).json())).toEqual(["a2"]);
  });
  test("?filter matches is RE2 (the engine loads on the first such filter); invalid RE2 syntax is a 400", async () => {
    const { registry, get } = api();
    await registry.register(svc("a1", "webapi", {}));
    await registry.register(svc("a2", "webdb", {}));
    const f = (expr: string) => get(`/v1/catalog/services?filter=${encodeURIComponent(expr)}`);
    expect(Object.keys((await f("ServiceName matches `^(web|api)+$`")).json())).toEqual(["webapi"]);
    const bad = await f("ServiceName matches `(a)\\1`");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("is not a valid regular expression");
  });
  test("?dc of another datacenter, ?stale, ?near", async () => {
    const { get } = api();
    expect((await get("/v1/catalog/services?dc=dc1&stale&near=_agent")).status).toBe(200);
    expect((await get("/v1/catalog/services?stale")).headers.get("X-Consul-Effective-Consistency")).toBe("stale");
    expect(await get("/v1/catalog/services?dc=elsewhere")).toMatchObject({ status: 500, text: "No path to datacenter" });
  });
  test("names like constructor and __proto__ are served like any other", async () => {
    const { registry, get } = api();
    const names = ["constructor", "__proto__", "toString", "hasOwnProperty"];
    for (const n of names) await registry.register(svc(n, n, { tags: [n], attrs: { [n]: n } }));
    const services = (await get("/v1/catalog/services")).json();
    expect(Object.keys(services).sort()).toEqual([...names].sort());
    for (const n of names) {
      expect(services[n]).toEqual([n]);
      expect((await get(`/v1/catalog/service/${n}`)).json()).toMatchObject([{ ServiceID: n, ServiceMeta: { [n]: n } }]);
      expect((await get(`/v1/health/service/${n}?tag=${n}`)).json()).toHaveLength(1);
    }
    expect(Object.keys((await get("/v1/agent/services")).json()).sort()).toEqual([...names].sort());
    expect(Object.keys((await get("/v1/catalog/node/host1")).json().Services).sort()).toEqual([...names].sort());
  });
  test("unknown /v1 paths get Consul's 404; other methods Consul's 405", async () => {
    const { get } = api();
    const res = await get("/v1/kv/anything");
    expect(res.status).toBe(404);
    expect(res.text).toBe("Invalid URL path: not a recognized HTTP API endpoint\n");
    expect(res.headers.get("X-Consul-Index")).toBeNull();
    const put = await get("/v1/catalog/services", { method: "PUT" });
    expect(put).toMatchObject({ status: 405, text: "method PUT not allowed" });
    expect(put.headers.get("Allow")).toBe("OPTIONS,GET");
    expect((await get("/v1/agent/self", { method: "OPTIONS" })).headers.get("Allow")).toBe("OPTIONS,GET");
    expect((await get("/v1/catalog/service/web", { method: "HEAD" })).status).toBe(200);
  });
});

describe("Host guard", () => {
  test("loopback bind: only loopback names, with or without port", () => {
    const allow = hostGuard("127.0.0.1", [])!;
    for (const h of ["localhost", "localhost:8485", "127.0.0.1:8485", "127.9.9.9", "[::1]:8485", "[::1]", "LOCALHOST.", "localhost.:8485", "::1"]) expect(allow(h)).toBe(true);
    for (const h of ["evil.example", "evil.example:8485", "127.0.0.1.evil.example", "10.0.0.5:8485", "localhost.evil"]) expect(allow(h)).toBe(false);
  });
  test("another bind answers any Host unless names are given", () => {
    expect(hostGuard("0.0.0.0", [])).toBeUndefined();
    const allow = hostGuard("0.0.0.0", ["registrator.example", "fe80::1"])!;
    expect(allow("registrator.example:8485")).toBe(true);
    expect(allow("[fe80::1]:8485")).toBe(true);
    expect(allow("evil.example")).toBe(false);
    expect(hostOf("[::1]:80")).toBe("::1");
  });
});
