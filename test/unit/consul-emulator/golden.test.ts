// The emulator's answers held to Consul's own shapes: the Go structs the agent marshals and the
// documented sample responses (test/support/consul/golden/, each file citing its source).
// test/unit/http/consul-golden.test.ts holds the embedded registry to the same goldens.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import {
  DEFAULTS,
  DOCS,
  agentChecksProblems,
  agentServicesProblems,
  catalogServiceProblems,
  catalogServicesProblems,
  docProblems,
  healthServiceProblems,
  structProblems,
} from "../../support/consul/golden/check.ts";
import { call, register } from "./helpers.ts";

let emu: ConsulEmulator;
const get = async <T = any>(path: string) => {
  const r = await call(emu, "GET", path);
  expect(r.status).toBe(200);
  return r.json<T>();
};

beforeAll(async () => {
  emu = await startConsulEmulator({ nodeName: "node-a" });
  // As registrator registers: address, port, tags, meta, a TTL check; and one bare service.
  await register(emu, {
    ID: "host:web:80",
    Name: "web",
    Address: "10.0.0.2",
    Port: 8080,
    Tags: ["v1", "prod"],
    Meta: { version: "1" },
    Check: { TTL: "30s", Status: "passing", Notes: "mirrors Docker's health" },
  });
  await register(emu, { ID: "bare", Name: "bare" });
});
afterAll(() => emu.stop());

describe("GET /v1/catalog/service/<name> (structs.ServiceNode)", () => {
  test("matches the struct and the documented sample", async () => {
    const list = await get<unknown[]>("/v1/catalog/service/web");
    expect(list).toHaveLength(1);
    expect(catalogServiceProblems(list)).toEqual([]);
  });

  test("a service registered without weights gets Consul's default weights", async () => {
    const [bare] = await get<Array<Record<string, unknown>>>("/v1/catalog/service/bare");
    expect(structProblems(bare, "ServiceNode")).toEqual([]);
    expect(bare?.ServiceWeights).toEqual(DEFAULTS.weights);
  });

  test("the server's own consul service is there too", async () => {
    const [consul] = await get<Array<Record<string, unknown>>>("/v1/catalog/service/consul");
    expect(structProblems(consul, "ServiceNode")).toEqual([]);
    expect({ ID: consul?.ServiceID, Service: consul?.ServiceName }).toEqual(DEFAULTS.consulService);
  });
});

describe("GET /v1/health/service/<name> (structs.CheckServiceNode)", () => {
  test("Node, Service and Checks match their structs and the documented sample", async () => {
    const list = await get<unknown[]>("/v1/health/service/web");
    expect(list).toHaveLength(1);
    expect(healthServiceProblems(list)).toEqual([]);
  });

  test("the node is shaped like a catalog/nodes entry of the docs", async () => {
    const [e] = await get<Array<{ Node: unknown }>>("/v1/health/service/web");
    expect(docProblems([e!.Node], DOCS.catalogNodes)).toEqual([]);
  });

  test("every entry carries the node's serfHealth check with Consul's constants", async () => {
    const [e] = await get<Array<{ Checks: Array<Record<string, unknown>> }>>("/v1/health/service/web");
    const serf = e!.Checks.find((c) => c.CheckID === DEFAULTS.serfHealth.CheckID);
    expect(serf).toMatchObject(DEFAULTS.serfHealth);
  });

  test("a service without a port leaves Port out (NodeService.Port is omitempty)", async () => {
    const [e] = await get<Array<{ Service: Record<string, unknown> }>>("/v1/health/service/bare");
    expect(structProblems(e!.Service, "NodeService", "Service")).toEqual([]);
    expect(Object.hasOwn(e!.Service, "Port")).toBe(false);
  });
});

describe("agent endpoints", () => {
  test("GET /v1/agent/services values match api.AgentService and the documented sample", async () => {
    const all = await get<Record<string, unknown>>("/v1/agent/services");
    expect(Object.keys(all).sort()).toEqual(["bare", "host:web:80"]);
    expect(agentServicesProblems(all, "host:web:80")).toEqual([]);
  });

  test("GET /v1/agent/checks values match structs.HealthCheck", async () => {
    const all = await get<Record<string, unknown>>("/v1/agent/checks");
    expect(Object.keys(all)).toEqual(["service:host:web:80"]);
    expect(agentChecksProblems(all)).toEqual([]);
  });

  test("GET /v1/catalog/services maps each name to a list of tags, as documented", async () => {
    const all = await get<Record<string, unknown>>("/v1/catalog/services");
    expect(catalogServicesProblems({ ...DOCS.catalogServices, ...all })).toEqual([]);
    expect(all.consul).toEqual(DOCS.catalogServices.consul);
    expect(all.web).toEqual(["prod", "v1"]);
  });
});
