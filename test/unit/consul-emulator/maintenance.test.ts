// Service maintenance mode (Consul's AgentServiceMaintenance) and how it shows in checks and
// health reads; Docker-health-style TTL checks updated with check/update.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DEFAULT_SERVICE_MAINT_REASON } from "../../support/consul/maintenance.ts";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { call, register } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator();
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const maint = (id: string, q: string) => call(emu, "PUT", `/v1/agent/service/maintenance/${id}${q}`);
const passingIds = async (name: string) =>
  (await call(emu, "GET", `/v1/health/service/${name}?passing`)).json<Array<{ Service: { ID: string } }>>().map((e) => e.Service.ID);

describe("PUT /v1/agent/service/maintenance/<id>", () => {
  test("enable adds the critical check _service_maintenance:<id> with the reason; ?passing leaves the service out", async () => {
    await register(emu, { Name: "web", ID: "web-1", Tags: ["a"] });
    await register(emu, { Name: "web", ID: "web-2" });
    expect(await passingIds("web")).toEqual(["web-1", "web-2"]);
    const r = await maint("web-1", "?enable=true&reason=container%20stopping");
    expect(r).toMatchObject({ status: 200, text: "" });
    expect(emu.checks()["_service_maintenance:web-1"]).toMatchObject({
      CheckID: "_service_maintenance:web-1",
      Name: "Service Maintenance Mode",
      Status: "critical",
      Notes: "container stopping",
      Output: "",
      ServiceID: "web-1",
      ServiceName: "web",
      ServiceTags: ["a"],
      Type: "maintenance",
    });
    expect(await passingIds("web")).toEqual(["web-2"]);
  });

  test("GET /v1/agent/checks lists the maintenance check", async () => {
    await register(emu, { Name: "web", ID: "web-1" });
    await maint("web-1", "?enable=true");
    const checks = (await call(emu, "GET", "/v1/agent/checks")).json<Record<string, { Status: string; Notes: string }>>();
    expect(checks["_service_maintenance:web-1"]).toMatchObject({ Status: "critical", Notes: DEFAULT_SERVICE_MAINT_REASON });
  });

  test("without a reason: Consul's default notes; enabling twice keeps the first reason", async () => {
    await register(emu, { Name: "web" });
    await maint("web", "?enable=true");
    expect(emu.checks()["_service_maintenance:web"]?.Notes).toBe(
      "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.",
    );
    expect((await maint("web", "?enable=true&reason=second")).status).toBe(200);
    expect(emu.checks()["_service_maintenance:web"]?.Notes).toBe(DEFAULT_SERVICE_MAINT_REASON);
  });

  test("disable removes the check (and is a no-op when not in maintenance); Go booleans accepted", async () => {
    await register(emu, { Name: "web" });
    await maint("web", "?enable=1");
    expect(await passingIds("web")).toEqual([]);
    expect((await maint("web", "?enable=False")).status).toBe(200);
    expect(emu.checks()["_service_maintenance:web"]).toBeUndefined();
    expect(await passingIds("web")).toEqual(["web"]);
    expect((await maint("web", "?enable=false")).status).toBe(200);
  });

  test("unknown service → 404 with Consul's text, for enable and disable", async () => {
    for (const q of ["?enable=true", "?enable=false"]) {
      const r = await maint("nope", q);
      expect({ status: r.status, text: r.text }).toEqual({
        status: 404,
        text: 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.',
      });
    }
  });

  test("missing or invalid enable → 400, before the service is looked up", async () => {
    expect(await maint("nope", "")).toMatchObject({ status: 400, text: "Missing value for enable" });
    expect(await maint("nope", "?reason=x")).toMatchObject({ status: 400, text: "Missing value for enable" });
    expect(await maint("nope", "?enable=yes")).toMatchObject({ status: 400, text: 'Invalid value for enable: "yes"' });
    expect(await maint("nope", "?enable=")).toMatchObject({ status: 400, text: 'Invalid value for enable: ""' });
  });

  test("missing service ID → 400; PUT only", async () => {
    expect(await call(emu, "PUT", "/v1/agent/service/maintenance/?enable=true")).toMatchObject({ status: 400, text: "Missing service ID" });
    const r = await call(emu, "GET", "/v1/agent/service/maintenance/web?enable=true");
    expect(r).toMatchObject({ status: 405, text: "method GET not allowed" });
  });

  test("IDs are percent-decoded like other agent paths", async () => {
    await register(emu, { Name: "web", ID: "host1:web/1:80" });
    expect((await maint(encodeURIComponent("host1:web/1:80"), "?enable=true")).status).toBe(200);
    expect(emu.checks()["_service_maintenance:host1:web/1:80"]?.Status).toBe("critical");
  });

  test("a re-register with replace-existing-checks drops maintenance, as the agent does", async () => {
    await register(emu, { Name: "web" });
    await maint("web", "?enable=true");
    await register(emu, { Name: "web" }, "?replace-existing-checks");
    expect(emu.checks()["_service_maintenance:web"]).toBeUndefined();
  });

  test("the maintenance check is not a TTL check: updates → 500", async () => {
    await register(emu, { Name: "web" });
    await maint("web", "?enable=true");
    const r = await call(emu, "PUT", "/v1/agent/check/pass/_service_maintenance:web");
    expect(r).toMatchObject({ status: 500, text: 'CheckID "_service_maintenance:web" does not have associated TTL' });
  });

  test("deregistering the service removes its maintenance check", async () => {
    await register(emu, { Name: "web" });
    await maint("web", "?enable=true");
    await call(emu, "PUT", "/v1/agent/service/deregister/web");
    expect(emu.checks()["_service_maintenance:web"]).toBeUndefined();
  });
});

describe("a mirrored Docker health check (TTL check + check/update)", () => {
  test("critical at registration, passing after an update; ?passing follows", async () => {
    await register(emu, {
      Name: "api",
      ID: "api-1",
      Checks: [{ CheckID: "registrator:api-1:docker-health", Name: "Docker health", TTL: "90s", Status: "critical" }],
    });
    expect(await passingIds("api")).toEqual([]);
    const r = await call(emu, "PUT", "/v1/agent/check/update/registrator:api-1:docker-health", JSON.stringify({ Status: "passing", Output: "ok" }));
    expect(r.status).toBe(200);
    expect(await passingIds("api")).toEqual(["api-1"]);
    const all = (await call(emu, "GET", "/v1/health/service/api")).json<Array<{ Checks: Array<{ CheckID: string; Status: string; Output: string }> }>>();
    expect(all[0]?.Checks.find((c) => c.CheckID === "registrator:api-1:docker-health")).toMatchObject({ Status: "passing", Output: "ok" });
  });
});
