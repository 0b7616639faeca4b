// The check kinds and fields Consul added after registrator's (Header, Body, TLSServerName, UDP,
// H2PING/H2PingUseTLS, DockerContainerID/Shell, OutputMaxSize, SuccessBeforePassing,
// FailuresBeforeCritical) and service Weights: decoded under Consul's own names (a misspelt one
// is a 400, as the agent's DisallowUnknownFields makes it), validated as CheckType.Validate and
// structs.ValidateWeights do, and shown with the check's Type.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { decodeGoBody } from "../../support/consul/godecode.ts";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { type ServiceDef, ServiceDefinitionSchema } from "../../support/consul/schemas.ts";
import { call, register } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator({ enableScriptChecks: true });
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const decoded = (body: unknown) => decodeGoBody<ServiceDef>(ServiceDefinitionSchema, JSON.stringify(body)).Check!;

describe("new check kinds register with their Type", () => {
  test.each<[string, Record<string, unknown>, string]>([
    ["UDP", { UDP: "10.0.0.2:53", Interval: "10s" }, "udp"],
    ["H2PING", { H2PING: "10.0.0.2:443", Interval: "10s" }, "h2ping"],
    ["H2PING cleartext", { H2PING: "10.0.0.2:80", H2PingUseTLS: false, Interval: "10s" }, "h2ping"],
    ["Docker", { DockerContainerID: "f".repeat(64), Shell: "/bin/sh", Args: ["/bin/sh", "-c", "pgrep x"], Interval: "30s" }, "docker"],
    ["HTTP with Header, Body, TLSServerName", { HTTP: "https://10.0.0.2/h", Method: "POST", Header: { "X-Probe": ["a", "b"], Accept: ["*/*"] }, Body: "{}", TLSServerName: "api.example.com", Interval: "10s" }, "http"],
    ["TCP with thresholds and output size", { TCP: "10.0.0.2:80", Interval: "10s", OutputMaxSize: 100, SuccessBeforePassing: 2, FailuresBeforeCritical: 3 }, "tcp"],
  ])("%s", async (_name, check, type) => {
    const r = await register(emu, { ID: "web", Name: "web", Check: check });
    expect(r).toMatchObject({ status: 200, text: "" });
    expect(emu.checks()["service:web"]).toMatchObject({ Type: type, ServiceID: "web" });
  });
});

describe("decoded under Consul's names", () => {
  test("every new field keeps its value", () => {
    // Sent and kept under the same name; Args is the one kept under another (ScriptArgs).
    const same = {
      Header: { "X-Probe": ["a", "b"] },
      Body: "ping",
      TLSServerName: "api.example.com",
      UDP: "10.0.0.2:53",
      DockerContainerID: "abc",
      Shell: "/bin/sh",
      OutputMaxSize: 100,
      SuccessBeforePassing: 2,
      FailuresBeforeCritical: 3,
    };
    const c = decoded({ Name: "web", Check: { HTTP: "https://x/", ...same, Args: ["/bin/sh", "-c", "true"], Interval: "10s" } });
    expect(c).toMatchObject({ ...same, ScriptArgs: ["/bin/sh", "-c", "true"] });
  });

  test("H2PingUseTLS is true unless sent false (CheckType.UnmarshalJSON's default)", () => {
    expect(decoded({ Name: "w", Check: { H2PING: "x:1", Interval: "1s" } }).H2PingUseTLS).toBe(true);
    expect(decoded({ Name: "w", Check: { H2PING: "x:1", H2PingUseTLS: false, Interval: "1s" } }).H2PingUseTLS).toBe(false);
    expect(decoded({ Name: "w", Check: { H2PING: "x:1", h2ping_use_tls: false, Interval: "1s" } }).H2PingUseTLS).toBe(false);
  });

  test("snake-case aliases tls_server_name and docker_container_id", () => {
    const c = decoded({ Name: "w", Check: { tls_server_name: "n", docker_container_id: "d", args: ["x"], Interval: "1s" } });
    expect(c).toMatchObject({ TLSServerName: "n", DockerContainerID: "d" });
  });
});

describe("refused as the agent refuses them", () => {
  test.each<[string, unknown, number, string]>([
    ["a misspelt field", { Name: "w", Check: { HTTP: "http://x/", Headers: { a: ["1"] }, Interval: "1s" } }, 400, 'Request decode failed: json: unknown field "Headers"'],
    ["a header value that is not a list", { Name: "w", Check: { HTTP: "http://x/", Header: { a: "1" }, Interval: "1s" } }, 400, "Request decode failed: json: cannot unmarshal string into Go struct field"],
    ["a negative OutputMaxSize", { Name: "w", Check: { TCP: "x:1", Interval: "1s", OutputMaxSize: -1 } }, 400, "Invalid check: MaxOutputMaxSize must be positive"],
    ["FailuresBeforeWarning over FailuresBeforeCritical", { Name: "w", Check: { TCP: "x:1", Interval: "1s", FailuresBeforeWarning: 3, FailuresBeforeCritical: 1 } }, 400, "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical"],
    ["a fractional threshold", { Name: "w", Check: { TCP: "x:1", Interval: "1s", SuccessBeforePassing: 1.5 } }, 400, "Request decode failed: json: cannot unmarshal number 1.5 into Go struct field"],
    ["UDP without Interval", { Name: "w", Check: { UDP: "x:1" } }, 400, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"],
    ["Weights.Passing 0", { Name: "w", Weights: { Passing: 0, Warning: 1 } }, 400, "Invalid Weights: Passing must be greater than 0"],
    ["Weights over 65535", { Name: "w", Weights: { Passing: 70000, Warning: 1 } }, 400, "Invalid Weights: DNS Weight must be between 0 and 65535"],
  ])("%s", async (_name, body, status, text) => {
    const r = await register(emu, body);
    expect(r.status).toBe(status);
    expect(r.text.startsWith(text)).toBe(true);
  });

  test("a Docker check is a script check: 500 on an agent without enable_script_checks", async () => {
    const strict = await startConsulEmulator();
    try {
      const r = await register(strict, { Name: "w", Check: { DockerContainerID: "abc", Args: ["/bin/sh", "-c", "true"], Interval: "10s" } });
      expect(r.status).toBe(500);
      expect(r.text).toContain("Scripts are disabled on this agent");
    } finally {
      await strict.stop();
    }
  });
});

test("OutputMaxSize limits what a TTL update keeps", async () => {
  await register(emu, { Name: "web", Check: { TTL: "30s", OutputMaxSize: 5 } });
  expect((await call(emu, "PUT", "/v1/agent/check/update/service:web", JSON.stringify({ Status: "passing", Output: "0123456789" }))).status).toBe(200);
  expect(emu.checks()["service:web"]?.Output).toBe("01234 ... (captured 5 of 10 bytes)");
});

test("Weights are listed as registered, and 1/1 when none were", async () => {
  await register(emu, { Name: "a", Weights: { Passing: 10, Warning: 0 } });
  await register(emu, { Name: "b" });
  const services = (await call(emu, "GET", "/v1/agent/services")).json<Record<string, { Weights: unknown }>>();
  expect(services.a?.Weights).toEqual({ Passing: 10, Warning: 0 });
  expect(services.b?.Weights).toEqual({ Passing: 1, Warning: 1 });
});
