// The check kinds and fields Consul added after registrator's, end to end: container labels →
// registrator → the agent emulator's register body, under Consul's own field names.
import { expect, test } from "bun:test";
import { waitFor } from "../support/proc.ts";
import { checksOf, consulE2eFile, registerBodies } from "./consul-helpers.ts";

const e = consulE2eFile();

test("headers, body, TLS server name, UDP, H2PING, Docker exec, thresholds and Weights reach the agent as Consul names them", async () => {
  const emu = await e.emulator({ enableScriptChecks: true });
  const reg = await e.registrator(["-ip", "127.0.0.1", "-allow-script-checks", `consul://127.0.0.1:${emu.port}`]);
  const labels = {
    SERVICE_CHECK_HTTPS: "/health",
    "SERVICE_CHECK_HTTP_HEADER_X-Probe": "a,b",
    SERVICE_CHECK_HTTP_HEADER_Authorization: "Bearer t0ken",
    SERVICE_CHECK_HTTP_BODY: "ping",
    SERVICE_CHECK_TLS_SERVER_NAME: "redis.example",
    SERVICE_CHECK_FAILURES_BEFORE_CRITICAL: "3",
    SERVICE_CHECK_2_UDP: "true",
    SERVICE_CHECK_2_OUTPUT_MAX_SIZE: "512",
    SERVICE_CHECK_3_H2PING: "true",
    SERVICE_CHECK_3_H2PING_USE_TLS: "false",
    SERVICE_CHECK_4_DOCKER: "redis-cli ping",
    SERVICE_CHECK_4_SUCCESS_BEFORE_PASSING: "2",
    SERVICE_WEIGHT_PASSING: "10",
    SERVICE_WEIGHT_WARNING: "0",
  };
  const c = await e.redisContainer(Object.entries(labels).flatMap(([k, v]) => ["-l", `${k}=${v}`]), "fields");
  await waitFor(() => emu.services()[c.serviceId], { message: `${c.serviceId} never registered` });
  const [body] = registerBodies(emu, c.serviceId);
  const target = `127.0.0.1:${c.port}`;
  expect(body!.Weights).toEqual({ Passing: 10, Warning: 0 });
  // Header values are for the check only: never published as Meta.
  expect(Object.keys(body!.Meta).filter((k) => k.includes("header"))).toEqual([]);
  expect(body!.Checks).toEqual([
    {
      HTTP: `https://${target}/health`,
      Header: { Authorization: ["Bearer t0ken"], "X-Probe": ["a", "b"] },
      Body: "ping",
      TLSServerName: "redis.example",
      FailuresBeforeCritical: 3,
      Interval: "10s",
    },
    { UDP: target, OutputMaxSize: 512, Interval: "10s" },
    { H2PING: target, H2PingUseTLS: false, Interval: "10s" },
    { DockerContainerID: c.id.trim(), Shell: "/bin/sh", Args: ["/bin/sh", "-c", "redis-cli ping"], SuccessBeforePassing: 2, Interval: "10s" },
  ]);
  const types = Object.values(checksOf(emu, c.serviceId)).map((x) => x.Type).sort();
  expect(types).toEqual(["docker", "h2ping", "http", "udp"]);
  expect(emu.services()[c.serviceId]?.Weights).toEqual({ Passing: 10, Warning: 0 });
  expect(emu.requests.filter((r) => r.body.includes(c.serviceId) && r.status !== 200)).toEqual([]);
  expect(reg.running).toBe(true);
});
