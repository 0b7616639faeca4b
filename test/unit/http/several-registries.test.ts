// The HTTP API with several registries (issue 16): /ready names each, /v1/services and /v1/status
// show each registry's state, metrics carry the registry label; with one registry the bodies stay
// as they were.
import { describe, expect, test } from "bun:test";
import type { Bridge } from "../../../src/bridge/bridge.ts";
import type { ServiceStatus } from "../../../src/bridge/types.ts";
import { createApp } from "../../../src/http/app.ts";
import { Metrics } from "../../../src/http/metrics.ts";
import type { Readiness } from "../../../src/http/status.ts";
import { testService } from "../../support/fixtures.ts";

const svc = testService({ id: "h:web:80", name: "web" });
const split: ServiceStatus = {
  service: svc,
  containerId: "c1",
  registered: false,
  lastError: "request timed out",
  registries: [
    { registry: "etcd", registered: false, lastError: "request timed out" },
    { registry: "local", registered: true },
  ],
};

function app(readiness: Readiness, statuses: ServiceStatus[]) {
  const bridge = { status: () => statuses, registered: () => [] } as unknown as Bridge;
  return createApp({
    bridge,
    metrics: new Metrics(),
    readiness: () => readiness,
    changes: new Set(),
    about: () => ({
      version: "1",
      hostname: "h",
      runtime: "bun",
      docker: { endpoint: "unix:///d.sock", apiVersion: "1.43" },
      registry: { backend: "etcd local" },
      registries: [{ name: "etcd", backend: "etcd" }, { name: "local", backend: "local" }],
    }),
  });
}

const docker = { ok: true, reason: "" };

describe("several registries over HTTP", () => {
  test("/ready: 503 naming the registry that is down, each one's state by name", async () => {
    const r: Readiness = {
      docker,
      registry: { ok: false, reason: "etcd: connection refused" },
      registries: [{ name: "etcd", ok: false, reason: "connection refused" }, { name: "local", ok: true, reason: "" }],
    };
    const res = await app(r, []).request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ready: false,
      reason: "registries: etcd: connection refused",
      registries: { etcd: { ready: false, reason: "connection refused" }, local: { ready: true } },
    });
  });

  test("/ready with one registry: the reason reads as before", async () => {
    const r: Readiness = { docker, registry: { ok: false, reason: "connection refused" }, registries: [{ name: "etcd", ok: false, reason: "connection refused" }] };
    expect(await (await app(r, []).request("/ready")).json()).toEqual({ ready: false, reason: "registry: connection refused", registries: { etcd: { ready: false, reason: "connection refused" } } });
  });

  test("/v1/services and /v1/status show each registry", async () => {
    const r: Readiness = { docker, registry: { ok: true, reason: "" }, registries: [{ name: "etcd", ok: true, reason: "" }, { name: "local", ok: true, reason: "" }] };
    const a = app(r, [split]);
    const [row] = (await (await a.request("/v1/services")).json()) as Array<Record<string, unknown>>;
    expect(row).toMatchObject({ id: "h:web:80", registered: false, lastError: "request timed out", registries: split.registries });
    const st = (await (await a.request("/v1/status")).json()) as { registries: unknown };
    expect(st.registries).toEqual([
      { name: "etcd", backend: "etcd", ready: true },
      { name: "local", backend: "local", ready: true },
    ]);
  });

  test("one registry: /v1/services rows carry no registries list", async () => {
    const one: ServiceStatus = { service: svc, containerId: "c1", registered: true, registries: [{ registry: "local", registered: true }] };
    const r: Readiness = { docker, registry: { ok: true, reason: "" } };
    const [row] = (await (await app(r, [one]).request("/v1/services")).json()) as Array<Record<string, unknown>>;
    expect(row).not.toHaveProperty("registries");
  });

  test("a gauge read per registry renders one labelled line each", () => {
    const m = new Metrics();
    m.gauge("registrator_services_registered", "per registry", () => [[{ registry: "etcd" }, 2], [{ registry: "local" }, 3]]);
    expect(m.render()).toContain('registrator_services_registered{registry="etcd"} 2\nregistrator_services_registered{registry="local"} 3\n');
  });
});
