// Catalog writes for nodes without an agent (external nodes): PUT /v1/catalog/register and
// /v1/catalog/deregister, GET /v1/catalog/node-services/<node>, as Consul's catalog endpoints answer.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { call } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator();
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const put = (path: string, body: unknown) => call(emu, "PUT", path, typeof body === "string" ? body : JSON.stringify(body));
const EXTERNAL = { "external-node": "true", "external-probe": "true" };
const web = {
  Node: "host-a",
  Address: "10.0.0.5",
  NodeMeta: EXTERNAL,
  Service: { ID: "host-a:web:80", Service: "web", Tags: ["v1"], Address: "10.0.0.5", Port: 8080, Meta: { version: "2" }, Weights: { Passing: 10, Warning: 1 } },
  Checks: [{ CheckID: "registrator:host-a:web:80:docker-health", Name: "Docker health", Status: "passing", Output: "ok", ServiceID: "host-a:web:80" }],
};

describe("PUT /v1/catalog/register", () => {
  test("answers true; node-services lists the node and its service", async () => {
    const r = await put("/v1/catalog/register", web);
    expect(r).toMatchObject({ status: 200 });
    expect(r.json()).toBe(true);
    const list = (await call(emu, "GET", "/v1/catalog/node-services/host-a")).json<{ Node: Record<string, unknown>; Services: Array<Record<string, unknown>> }>();
    expect(list.Node).toMatchObject({ Node: "host-a", Address: "10.0.0.5", Datacenter: "dc1", Meta: EXTERNAL });
    expect(list.Services).toEqual([
      expect.objectContaining({ ID: "host-a:web:80", Service: "web", Tags: ["v1"], Address: "10.0.0.5", Port: 8080, Meta: { version: "2" }, Weights: { Passing: 10, Warning: 1 } }),
    ]);
    expect(emu.catalogNode("host-a")?.checks.get("registrator:host-a:web:80:docker-health")).toMatchObject({ Status: "passing", Output: "ok", ServiceName: "web" });
    // The agent's own services are not the external node's.
    expect(emu.services()).toEqual({});
  });

  test("registering again updates the check's status in place", async () => {
    await put("/v1/catalog/register", web);
    const critical = { ...web, Checks: [{ ...web.Checks[0], Status: "critical", Output: "unhealthy" }] };
    expect((await put("/v1/catalog/register", critical)).status).toBe(200);
    expect(emu.catalogNode("host-a")?.checks.get("registrator:host-a:web:80:docker-health")).toMatchObject({ Status: "critical", Output: "unhealthy" });
  });

  test("a check without a status is critical; its ID defaults to its name", async () => {
    await put("/v1/catalog/register", { ...web, Checks: [{ Name: "probe", ServiceID: "host-a:web:80" }] });
    expect(emu.catalogNode("host-a")?.checks.get("probe")).toMatchObject({ Status: "critical", CheckID: "probe" });
  });

  test("the service ID defaults to its name", async () => {
    await put("/v1/catalog/register", { Node: "n", Address: "10.0.0.1", Service: { Service: "db", Port: 5432 } });
    expect([...emu.catalogNode("n")!.services.keys()]).toEqual(["db"]);
  });

  test.each<[string, unknown, number, string]>([
    ["no node", { Address: "10.0.0.1" }, 500, "Must provide node"],
    ["no address", { Node: "n" }, 500, "Must provide address if SkipNodeUpdate is not set"],
    ["a bad node ID", { Node: "n", Address: "10.0.0.1", ID: "nope" }, 500, "Bad node ID"],
    ["a service ID without a name", { Node: "n", Address: "10.0.0.1", Service: { ID: "x" } }, 500, "Must provide service name with ID"],
    ["a wildcard service address", { Node: "n", Address: "10.0.0.1", Service: { Service: "x", Address: "0.0.0.0" } }, 500, "Invalid service address"],
    ["a check of a service the node lacks", { Node: "n", Address: "10.0.0.1", Checks: [{ CheckID: "c", ServiceID: "ghost" }] }, 500, "Missing service registration"],
    ["a check of another node", { Node: "n", Address: "10.0.0.1", Check: { CheckID: "c", Node: "m" } }, 500, 'check node "m" does not match node "n"'],
    ["an unknown field (strict decode)", { Node: "n", Address: "10.0.0.1", Meta: {} }, 400, 'Request decode failed: json: unknown field "Meta"'],
    ["an unknown service field", { Node: "n", Address: "10.0.0.1", Service: { Name: "x" } }, 400, 'Request decode failed: json: unknown field "Name"'],
    ["malformed JSON", "{", 400, "Request decode failed: unexpected EOF"],
  ])("%s → %i", async (_name, body, status, text) => {
    const r = await put("/v1/catalog/register", body);
    expect(r.status).toBe(status);
    expect(r.text).toContain(text);
    expect(emu.catalogNode("n")).toBeUndefined();
  });

  test("GET is not allowed", async () => {
    const r = await call(emu, "GET", "/v1/catalog/register");
    expect(r.status).toBe(405);
  });
});

describe("PUT /v1/catalog/deregister", () => {
  test("a service goes with its checks; the node stays", async () => {
    await put("/v1/catalog/register", web);
    const r = await put("/v1/catalog/deregister", { Node: "host-a", ServiceID: "host-a:web:80" });
    expect(r.status).toBe(200);
    expect(r.json()).toBe(true);
    expect(emu.catalogNode("host-a")?.services.size).toBe(0);
    expect(emu.catalogNode("host-a")?.checks.size).toBe(0);
    expect((await call(emu, "GET", "/v1/catalog/node-services/host-a")).json()).toMatchObject({ Node: { Node: "host-a" }, Services: [] });
  });

  test("an absent service or node is no error", async () => {
    expect((await put("/v1/catalog/deregister", { Node: "nobody", ServiceID: "x" })).json()).toBe(true);
  });

  test("without a service or check ID the whole node goes", async () => {
    await put("/v1/catalog/register", web);
    await put("/v1/catalog/deregister", { Node: "host-a" });
    expect(emu.catalogNode("host-a")).toBeUndefined();
  });

  test("no node → 500 Must provide node", async () => {
    const r = await put("/v1/catalog/deregister", { ServiceID: "x" });
    expect(r).toMatchObject({ status: 500, text: "Must provide node" });
  });
});

describe("GET /v1/catalog/node-services/<node>", () => {
  test("an unknown node: 200 with a null node and null services", async () => {
    const r = await call(emu, "GET", "/v1/catalog/node-services/ghost");
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ Node: null, Services: null });
    expect(Number(r.headers.get("X-Consul-Index"))).toBeGreaterThan(0);
  });

  test("no node name → 400", async () => {
    expect(await call(emu, "GET", "/v1/catalog/node-services/")).toMatchObject({ status: 400, text: "Missing node name" });
  });

  test("a restart forgets external nodes like the rest of a -dev agent", async () => {
    await put("/v1/catalog/register", web);
    await emu.restart();
    expect(emu.catalogNode("host-a")).toBeUndefined();
  });
});

test("with ACLs, the anonymous caller may not write the catalog", async () => {
  const secured = await startConsulEmulator({ token: "s3cret" });
  try {
    const r = await call(secured, "PUT", "/v1/catalog/register", JSON.stringify(web));
    expect(r.status).toBe(403);
    expect(r.text).toContain("Permission denied");
    const ok = await call(secured, "PUT", "/v1/catalog/register", JSON.stringify(web), { "X-Consul-Token": "s3cret" });
    expect(ok.status).toBe(200);
  } finally {
    await secured.stop();
  }
});
