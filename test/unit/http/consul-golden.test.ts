// The embedded registry's Consul answers held to Consul's own shapes: the Go structs the agent
// marshals and the documented sample responses (test/support/consul/golden/, each file citing
// its source). The Consul emulator is held to the same goldens by
// test/unit/consul-emulator/golden.test.ts, so both answer to Consul, not to each other.

import { describe, expect, test } from "bun:test";
import { LocalCatalog } from "../../../src/registries/local.ts";
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
import { catalogApp, svc } from "./catalog-support.ts";

const catalog = new LocalCatalog();
catalog.set(svc("host1:web:80", "web", { tags: ["v1", "prod"], attrs: { version: "1" }, mirror: { status: "passing", output: "ok" } }));
catalog.set(svc("host1:plain:80", "plain"));
const app = catalogApp(catalog);

async function get<T = any>(path: string): Promise<T> {
  const res = await app.request(path);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe("GET /v1/catalog/service/<name> (structs.ServiceNode)", () => {
  test("matches the struct and the documented sample", async () => {
    const list = await get<unknown[]>("/v1/catalog/service/web");
    expect(list).toHaveLength(1);
    expect(catalogServiceProblems(list)).toEqual([]);
  });

  test("a service without tags or meta still matches; weights are Consul's defaults", async () => {
    const [e] = await get<Array<Record<string, unknown>>>("/v1/catalog/service/plain");
    expect(structProblems(e, "ServiceNode")).toEqual([]);
    expect(e?.ServiceWeights).toEqual(DEFAULTS.weights);
  });
});

describe("GET /v1/health/service/<name> (structs.CheckServiceNode)", () => {
  test("Node, Service and Checks match their structs and the documented sample", async () => {
    const list = await get<unknown[]>("/v1/health/service/web");
    expect(list).toHaveLength(1);
    expect(healthServiceProblems(list)).toEqual([]);
  });

  test("the node's serfHealth check carries Consul's constants", async () => {
    const [e] = await get<Array<{ Checks: Array<Record<string, unknown>> }>>("/v1/health/service/plain");
    expect(e!.Checks.find((c) => c.CheckID === DEFAULTS.serfHealth.CheckID)).toMatchObject(DEFAULTS.serfHealth);
  });
});

describe("nodes and agent endpoints", () => {
  test("GET /v1/catalog/nodes entries match structs.Node and the documented sample", async () => {
    const nodes = await get<unknown[]>("/v1/catalog/nodes");
    expect(nodes.flatMap((n, i) => structProblems(n, "Node", `[${i}]`))).toEqual([]);
    expect(docProblems(nodes, DOCS.catalogNodes)).toEqual([]);
  });

  test("GET /v1/agent/services values match api.AgentService and the documented sample", async () => {
    const all = await get<Record<string, unknown>>("/v1/agent/services");
    expect(Object.keys(all).sort()).toEqual(["host1:plain:80", "host1:web:80"]);
    expect(agentServicesProblems(all, "host1:web:80")).toEqual([]);
  });

  test("GET /v1/agent/checks values match structs.HealthCheck", async () => {
    const all = await get<Record<string, unknown>>("/v1/agent/checks");
    expect(Object.keys(all).length).toBeGreaterThan(0);
    expect(agentChecksProblems(all)).toEqual([]);
  });

  test("GET /v1/catalog/services maps each name to a list of tags, as documented", async () => {
    const all = await get<Record<string, unknown>>("/v1/catalog/services");
    expect(catalogServicesProblems(all)).toEqual([]);
    expect(all.web).toEqual(["prod", "v1"]);
  });
});
