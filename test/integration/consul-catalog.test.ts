import { parseRegistryUri } from "../../src/registries/uri.ts";
// consul-catalog adapter against the emulator's catalog endpoints: the register body, health
// through the check status, list/fingerprint agreement, deregistration, and URI/flag validation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/errors.ts";
import { ConsulCatalogAdapter, EXTERNAL_NODE_META, consulCatalogFactory, parseConsulCatalogUri } from "../../src/registries/consul-catalog.ts";
import { createAdapter } from "../../src/registries/index.ts";
import { type ConsulEmulator, startConsulEmulator } from "../support/consul/index.ts";
import { adapterContext, testService } from "../support/fixtures.ts";

describe("consul-catalog adapter", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator();
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const adapter = (nodeAddress?: string) => {
    const { ctx, log } = adapterContext();
    return { a: consulCatalogFactory(parseRegistryUri(`consul-catalog://127.0.0.1:${emu.port}`), { ...ctx, nodeAddress: () => nodeAddress }) as ConsulCatalogAdapter, log };
  };

  test("register: this host as an external node, the service, the mirror check with its status", async () => {
    emu.clearLog();
    const { a } = adapter("192.0.2.7");
    const s = testService({ id: "host1:web1:80", attrs: { version: "2" }, weights: { passing: 5, warning: 0 }, mirror: { status: "critical", output: "starting" } });
    await a.register(s);
    const req = emu.requests.find((r) => r.path === "/v1/catalog/register")!;
    expect(req.status).toBe(200);
    expect(JSON.parse(req.body)).toEqual({
      Node: "host1",
      Address: "192.0.2.7",
      NodeMeta: EXTERNAL_NODE_META,
      Service: { ID: "host1:web1:80", Service: "web", Tags: ["a", "b"], Address: "10.0.0.2", Port: 8080, Meta: { version: "2" }, Weights: { Passing: 5, Warning: 0 }, EnableTagOverride: false },
      Checks: [
        {
          Node: "host1",
          CheckID: "registrator:host1:web1:80:docker-health",
          Name: "Docker health",
          Notes: expect.stringContaining("HEALTHCHECK"),
          Status: "critical",
          Output: "starting",
          ServiceID: "host1:web1:80",
        },
      ],
    });
    expect(emu.catalogNode("host1")?.checks.get("registrator:host1:web1:80:docker-health")?.Status).toBe("critical");

    await a.setHealth!({ ...s, mirror: { status: "passing", output: "ok" } });
    expect(emu.catalogNode("host1")?.checks.get("registrator:host1:web1:80:docker-health")).toMatchObject({ Status: "passing", Output: "ok" });

    const listed = await a.list!();
    expect(listed).toEqual([{ id: s.id, name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp", fingerprint: a.fingerprint!(s) }]);

    await a.deregister(s);
    expect(emu.catalogNode("host1")?.services.size).toBe(0);
    await a.deregister(s); // already gone: still 200
    expect(await a.list!()).toEqual([]);
  });

  test("list of a node the catalog does not know is empty", async () => {
    const { ctx } = adapterContext();
    const a = consulCatalogFactory(parseRegistryUri(`consul-catalog://127.0.0.1:${emu.port}`), { ...ctx, hostname: "never-registered" });
    expect(await a.list!()).toEqual([]);
  });

  test("checks from SERVICE_CHECK_* are left out with one warning (no agent runs them)", async () => {
    const { a, log } = adapter("192.0.2.7");
    const s = testService({ id: "host1:chk:80", checks: [{ kind: "tcp", target: "10.0.0.2:8080", interval: "10s" }] });
    await a.register(s);
    await a.register(s);
    const warnings = log.lines.filter((l) => l.level === "warn").map((l) => l.msg);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("nobody runs them");
    expect(emu.catalogNode("host1")?.checks.size).toBe(0);
    await a.deregister(s);
  });

  test("without a known host address the service's address is the node's", async () => {
    emu.clearLog();
    const { a } = adapter(undefined);
    await a.register(testService({ id: "host1:noaddr:80" }));
    expect(JSON.parse(emu.requests.find((r) => r.path === "/v1/catalog/register")!.body).Address).toBe("10.0.0.2");
    await a.deregister(testService({ id: "host1:noaddr:80" }));
  });
});

describe("consul-catalog URI and flags", () => {
  const { ctx } = adapterContext();
  test("registered as a scheme", async () => {
    expect((await createAdapter("consul-catalog://127.0.0.1:8500", ctx)).backend).toBe("consul-catalog");
  });
  test.each([
    ["consul-catalog://127.0.0.1:8500/x", /consul-catalog takes no path/],
    ["consul-catalog://a:b", /expected host:port/],
  ])("%s is refused", (uri, message) => {
    expect(() => parseConsulCatalogUri(parseRegistryUri(uri), ctx)).toThrow(message);
  });
  test("-ttl is refused with the reason", () => {
    let err: unknown;
    try {
      parseConsulCatalogUri(parseRegistryUri("consul-catalog://127.0.0.1:8500"), { ...ctx, ttl: 30 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^Flag -ttl cannot be used with consul-catalog:\/\/: a TTL check is run by the Consul agent of the node/);
  });
});
