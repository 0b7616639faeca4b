// TTL checks (protocols.md 2.4): updates, their 404/500/400 texts, expiry, output limits,
// DeregisterCriticalServiceAfter reaping with fast timers, check deregistration.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { call, register, until } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator({ reapMinimumMs: 100, reapIntervalMs: 20 });
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const status = (id: string) => emu.checks()[id]?.Status;

describe("TTL updates", () => {
  test.each([
    ["pass", "passing"],
    ["warn", "warning"],
    ["fail", "critical"],
  ])("PUT /v1/agent/check/%s/<id>?note= sets %s with the note as output", async (verb, expected) => {
    await register(emu, { Name: "web", Check: { TTL: "30s", Status: verb === "fail" ? "passing" : "critical" } });
    const r = await call(emu, "PUT", `/v1/agent/check/${verb}/service:web?note=hello%20there`);
    expect(r).toMatchObject({ status: 200, text: "" });
    expect(emu.checks()["service:web"]).toMatchObject({ Status: expected, Output: "hello there" });
  });

  test("PUT /v1/agent/check/update/<id> with Status and Output", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s" } });
    const r = await call(emu, "PUT", "/v1/agent/check/update/service:web", JSON.stringify({ Status: "warning", Output: "slow" }));
    expect(r.status).toBe(200);
    expect(emu.checks()["service:web"]).toMatchObject({ Status: "warning", Output: "slow" });
  });

  test("update with another status → 400 Invalid check status", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s" } });
    const r = await call(emu, "PUT", "/v1/agent/check/update/service:web", JSON.stringify({ Status: "ok" }));
    expect(r).toMatchObject({ status: 400, text: "Invalid check status: 'ok'" });
    const empty = await call(emu, "PUT", "/v1/agent/check/update/service:web", "{}");
    expect(empty).toMatchObject({ status: 400, text: "Invalid check status: ''" });
  });

  test("update body is decoded strictly", async () => {
    const r = await call(emu, "PUT", "/v1/agent/check/update/x", JSON.stringify({ Status: "passing", Note: "x" }));
    expect(r).toMatchObject({ status: 400, text: 'Request decode failed: json: unknown field "Note"' });
  });

  test("unknown check ID → 404 with the agent's hint", async () => {
    for (const path of ["/v1/agent/check/pass/nope", "/v1/agent/check/warn/nope", "/v1/agent/check/fail/nope"]) {
      const r = await call(emu, "PUT", path);
      expect({ status: r.status, text: r.text }).toEqual({
        status: 404,
        text: 'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.',
      });
    }
    const u = await call(emu, "PUT", "/v1/agent/check/update/nope", '{"Status":"passing"}');
    expect(u.status).toBe(404);
  });

  test("a check that is not a TTL check → 500", async () => {
    await register(emu, { Name: "web", Check: { HTTP: "http://127.0.0.1:1/", Interval: "10s" } });
    const r = await call(emu, "PUT", "/v1/agent/check/pass/service:web");
    expect(r).toMatchObject({ status: 500, text: 'CheckID "service:web" does not have associated TTL' });
  });

  test("updates are PUT only", async () => {
    const r = await call(emu, "GET", "/v1/agent/check/pass/service:web");
    expect(r).toMatchObject({ status: 405, text: "method GET not allowed" });
    expect(r.headers.get("Allow")).toBe("OPTIONS,PUT");
  });

  test("output above 4096 bytes (or OutputMaxSize) is truncated with a note", async () => {
    await register(emu, { Name: "web", Checks: [{ TTL: "30s", CheckID: "big" }, { TTL: "30s", CheckID: "small", OutputMaxSize: 10 }] });
    await call(emu, "PUT", "/v1/agent/check/update/big", JSON.stringify({ Status: "passing", Output: "x".repeat(5000) }));
    await call(emu, "PUT", "/v1/agent/check/update/small", JSON.stringify({ Status: "passing", Output: "0123456789abcdef" }));
    expect(emu.checks().big?.Output).toBe(`${"x".repeat(4096)} ... (captured 4096 of 5000 bytes)`);
    expect(emu.checks().small?.Output).toBe("0123456789 ... (captured 10 of 16 bytes)");
  });
});

describe("TTL expiry", () => {
  test("a TTL check not refreshed within its TTL turns critical with 'TTL expired'", async () => {
    await register(emu, { Name: "web", Check: { TTL: "150ms", Status: "passing" } });
    await until(() => status("service:web") === "critical");
    expect(emu.checks()["service:web"]?.Output).toBe("TTL expired");
  });

  test("the expired output quotes the last update", async () => {
    await register(emu, { Name: "web", Check: { TTL: "150ms" } });
    await call(emu, "PUT", "/v1/agent/check/pass/service:web?note=all%20good");
    expect(status("service:web")).toBe("passing");
    await until(() => status("service:web") === "critical");
    expect(emu.checks()["service:web"]?.Output).toBe("TTL expired (last output before timeout follows): all good");
  });

  test("each update restarts the TTL", async () => {
    await register(emu, { Name: "web", Check: { TTL: "300ms" } });
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      await call(emu, "PUT", "/v1/agent/check/pass/service:web");
      await new Promise((r) => setTimeout(r, 100));
      expect(status("service:web")).toBe("passing");
    }
    expect(Date.now() - started).toBeGreaterThan(400);
  });
});

describe("DeregisterCriticalServiceAfter", () => {
  test("the reaper removes a service whose check stays critical longer than the timeout", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s", DeregisterCriticalServiceAfter: "150ms" } });
    expect(Object.keys(emu.services())).toEqual(["web"]);
    await until(() => Object.keys(emu.services()).length === 0);
    expect(emu.checks()).toEqual({});
  });

  test("the agent's minimum applies (here reapMinimumMs = 100 ms, real agent 1 min)", async () => {
    const registered = Date.now();
    await register(emu, { Name: "web", Check: { TTL: "30s", DeregisterCriticalServiceAfter: "1ms" } });
    await until(() => Object.keys(emu.services()).length === 0);
    expect(Date.now() - registered).toBeGreaterThanOrEqual(100);
  });

  test("a passing check is not reaped; the clock starts when it turns critical", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s", Status: "passing", DeregisterCriticalServiceAfter: "100ms" } });
    await new Promise((r) => setTimeout(r, 250));
    expect(Object.keys(emu.services())).toEqual(["web"]);
    await call(emu, "PUT", "/v1/agent/check/fail/service:web");
    await until(() => Object.keys(emu.services()).length === 0);
  });

  test("defaults are the real agent's: 1 min minimum, 30 s reaper", async () => {
    const e = await startConsulEmulator();
    try {
      await register(e, { Name: "web", Check: { TTL: "30s", DeregisterCriticalServiceAfter: "1ms" } });
      await new Promise((r) => setTimeout(r, 100));
      expect(Object.keys(e.services())).toEqual(["web"]);
    } finally {
      await e.stop();
    }
  });
});

describe("check deregistration and programmatic status", () => {
  test("PUT /v1/agent/check/deregister/<id> removes one check; unknown → 404", async () => {
    await register(emu, { Name: "web", Checks: [{ TTL: "30s", CheckID: "a" }, { TTL: "30s", CheckID: "b" }] });
    expect((await call(emu, "PUT", "/v1/agent/check/deregister/a")).status).toBe(200);
    expect(Object.keys(emu.checks())).toEqual(["b"]);
    expect((await call(emu, "PUT", "/v1/agent/check/deregister/a")).status).toBe(404);
  });

  test("setCheckStatus() stands in for HTTP/TCP probes, which the emulator never runs", async () => {
    await register(emu, { Name: "web", Check: { HTTP: "http://127.0.0.1:1/health", Interval: "1s" } });
    expect(status("service:web")).toBe("critical");
    emu.setCheckStatus("service:web", "passing", "HTTP GET http://127.0.0.1:1/health: 200 OK");
    expect(emu.checks()["service:web"]).toMatchObject({ Status: "passing", Output: "HTTP GET http://127.0.0.1:1/health: 200 OK" });
  });

  test("deregistering a service removes its checks; unknown service → 404 text", async () => {
    await register(emu, { Name: "web", Check: { TTL: "30s" } });
    expect((await call(emu, "PUT", "/v1/agent/service/deregister/web")).status).toBe(200);
    expect(emu.checks()).toEqual({});
    const r = await call(emu, "PUT", "/v1/agent/service/deregister/web");
    expect({ status: r.status, text: r.text }).toEqual({
      status: 404,
      text: 'Unknown service ID "web". Ensure that the service ID is passed, not the service name.',
    });
  });

  test("IDs with reserved characters travel percent-encoded", async () => {
    await register(emu, { Name: "web", ID: "host:web/1:80", Check: { TTL: "30s" } });
    expect((await call(emu, "PUT", `/v1/agent/check/pass/${encodeURIComponent("service:host:web/1:80")}`)).status).toBe(200);
    expect((await call(emu, "PUT", `/v1/agent/service/deregister/${encodeURIComponent("host:web/1:80")}`)).status).toBe(200);
    expect(emu.services()).toEqual({});
  });
});
