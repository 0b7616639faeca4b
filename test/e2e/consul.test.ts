// registrator end to end against the Consul agent emulator: the product's seed example
// (docker run -P redis → catalog), and every check kind as the agent receives it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { waitFor, type Proc } from "../support/proc.ts";
import { type Container, checksOf, consulE2eFile, escapeRe, linesMatching, registerBodies } from "./consul-helpers.ts";

// What a test starts ends with it; what a beforeAll starts, with the file.
const e = consulE2eFile();

type CatalogEntry = Record<string, unknown>;

describe("seed example: docker run -P redis", () => {
  test("the catalog shows redis with ID <hostname>:<container>:6379 and the published port; docker stop removes it", async () => {
    const emu = await e.emulator();
    const reg = await e.registrator([`consul://127.0.0.1:${emu.port}`]);
    // Without -ip the address of 0.0.0.0 bindings is this host's, as the startup log says.
    const [, hostIp] = await reg.waitForLine(/Using (\S+) for ports published on all interfaces/, 1000);
    const c = await e.redisContainer();

    const services = await waitFor(async () => {
      const body = (await (await emu.fetch("/v1/catalog/services")).json()) as Record<string, string[]>;
      return "redis" in body ? body : false;
    }, { message: "redis never appeared in /v1/catalog/services" });
    expect(services.redis).toEqual([]);

    const entries = (await (await emu.fetch("/v1/catalog/service/redis")).json()) as CatalogEntry[];
    const mine = entries.filter((x) => x.ServiceID === c.serviceId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ ServiceID: c.serviceId, ServiceName: "redis", ServicePort: c.port, ServiceAddress: hostIp, ServiceTags: [] });

    await e.dockerd.docker(["stop", "-t", "0", c.name]);
    await waitFor(async () => {
      const now = (await (await emu.fetch("/v1/catalog/service/redis")).json()) as CatalogEntry[];
      return !now.some((x) => x.ServiceID === c.serviceId);
    }, { message: `${c.serviceId} still in the catalog after docker stop` });
    expect(emu.services()[c.serviceId]).toBeUndefined();
    expect(reg.running).toBe(true);
    await reg.stop();
  });
});

describe("check kinds", () => {
  let emu: ConsulEmulator;
  let reg: Proc;

  beforeAll(async () => {
    emu = await e.emulator({ enableScriptChecks: true });
    reg = await e.registrator(["-ip", "127.0.0.1", "-allow-script-checks", `consul://127.0.0.1:${emu.port}`]);
  });

  afterAll(async () => {
    await reg?.stop();
  });

  /** Starts a container with these SERVICE_* variables and waits until the agent has its service. */
  async function registered(env: Record<string, string>): Promise<{ c: Container; body: Record<string, any> }> {
    const c = await e.redisContainer(Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), "chk");
    await waitFor(() => emu.services()[c.serviceId], { message: `${c.serviceId} never registered` });
    const bodies = registerBodies(emu, c.serviceId);
    expect(bodies).toHaveLength(1);
    const body = bodies[0]!;
    expect(body).toMatchObject({ ID: c.serviceId, Name: "redis", Address: "127.0.0.1", Port: c.port });
    // The agent answered every request of this service without complaint (a 400 would show here).
    expect(emu.requests.filter((r) => r.body.includes(c.serviceId) && r.status !== 200)).toEqual([]);
    return { c, body };
  }

  const single = (c: Container) => `service:${c.serviceId}`;
  const named = { Name: "Service 'redis' check", ServiceName: "redis" };

  test("HTTP: SERVICE_CHECK_HTTP=/health with method and timeout", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_HTTP: "/health", SERVICE_CHECK_HTTP_METHOD: "HEAD", SERVICE_CHECK_TIMEOUT: "3s" });
    expect(body.Checks).toEqual([{ HTTP: `http://127.0.0.1:${c.port}/health`, Method: "HEAD", Interval: "10s", Timeout: "3s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({
      [single(c)]: expect.objectContaining({ ...named, Type: "http", Interval: "10s", Timeout: "3s", Status: "critical" }),
    });
  });

  test("HTTPS: SERVICE_CHECK_HTTPS with SERVICE_CHECK_TLS_SKIP_VERIFY", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_HTTPS: "/status", SERVICE_CHECK_TLS_SKIP_VERIFY: "true" });
    expect(body.Checks).toEqual([{ HTTP: `https://127.0.0.1:${c.port}/status`, TLSSkipVerify: true, Interval: "10s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({
      [single(c)]: expect.objectContaining({ ...named, Type: "http", Interval: "10s", Timeout: "" }),
    });
  });

  test("TCP: SERVICE_CHECK_TCP=true", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_TCP: "true" });
    expect(body.Checks).toEqual([{ TCP: `127.0.0.1:${c.port}`, Interval: "10s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({ [single(c)]: expect.objectContaining({ ...named, Type: "tcp", Interval: "10s" }) });
  });

  test("gRPC: SERVICE_CHECK_GRPC=true with SERVICE_CHECK_GRPC_USE_TLS", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_GRPC: "true", SERVICE_CHECK_GRPC_USE_TLS: "true" });
    expect(body.Checks).toEqual([{ GRPC: `127.0.0.1:${c.port}`, GRPCUseTLS: true, Interval: "10s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({ [single(c)]: expect.objectContaining({ ...named, Type: "grpc", Interval: "10s" }) });
  });

  test("TTL: SERVICE_CHECK_TTL=30s (no interval: the service passes it itself)", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_TTL: "30s" });
    expect(body.Checks).toEqual([{ TTL: "30s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({
      [single(c)]: expect.objectContaining({ ...named, Type: "ttl", Interval: "", Status: "critical" }),
    });
  });

  test("script (with -allow-script-checks): /bin/sh -c with $SERVICE_IP and $SERVICE_PORT substituted", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_SCRIPT: "nc -z $SERVICE_IP $SERVICE_PORT", SERVICE_CHECK_INTERVAL: "30s" });
    expect(body.Checks).toEqual([{ Args: ["/bin/sh", "-c", `nc -z 127.0.0.1 ${c.port}`], Interval: "30s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({ [single(c)]: expect.objectContaining({ ...named, Type: "script", Interval: "30s" }) });
  });

  test("legacy SERVICE_CHECK_CMD: [check-cmd, <12-char container id>, <exposed port>, cmd]", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_CMD: "/bin/health --quick" });
    expect(body.Checks).toEqual([{ Args: ["check-cmd", c.id.slice(0, 12), "6379", "/bin/health --quick"], Interval: "10s" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({ [single(c)]: expect.objectContaining({ ...named, Type: "script", Interval: "10s" }) });
  });

  test("interval, initial status and deregister-after", async () => {
    const { c, body } = await registered({
      SERVICE_CHECK_TCP: "true",
      SERVICE_CHECK_INTERVAL: "15s",
      SERVICE_CHECK_INITIAL_STATUS: "passing",
      SERVICE_CHECK_DEREGISTER_AFTER: "90m",
    });
    expect(body.Checks).toEqual([{ TCP: `127.0.0.1:${c.port}`, Interval: "15s", Status: "passing", DeregisterCriticalServiceAfter: "90m" }]);
    expect(checksOf(emu, c.serviceId)).toEqual({
      [single(c)]: expect.objectContaining({ ...named, Type: "tcp", Interval: "15s", Status: "passing" }),
    });
  });

  test("a numbered extra check: SERVICE_CHECK_2_TCP=true next to SERVICE_CHECK_HTTP", async () => {
    const { c, body } = await registered({ SERVICE_CHECK_HTTP: "/health", SERVICE_CHECK_2_TCP: "true", SERVICE_CHECK_2_INTERVAL: "5s" });
    expect(body.Checks).toEqual([
      { HTTP: `http://127.0.0.1:${c.port}/health`, Interval: "10s" },
      { TCP: `127.0.0.1:${c.port}`, Interval: "5s" },
    ]);
    expect(checksOf(emu, c.serviceId)).toEqual({
      [`service:${c.serviceId}:1`]: expect.objectContaining({ ...named, Type: "http", Interval: "10s" }),
      [`service:${c.serviceId}:2`]: expect.objectContaining({ ...named, Type: "tcp", Interval: "5s" }),
    });
  });

  test("the check goes with the container: docker rm -f removes service and checks", async () => {
    const { c } = await registered({ SERVICE_CHECK_TCP: "true" });
    await e.dockerd.docker(["rm", "-f", c.name]);
    await waitFor(() => !emu.services()[c.serviceId], { message: `${c.serviceId} still registered` });
    expect(checksOf(emu, c.serviceId)).toEqual({});
  });
});

describe("script checks without -allow-script-checks", () => {
  test("SERVICE_CHECK_SCRIPT and SERVICE_CHECK_CMD are dropped with a warning naming container and key; the services register", async () => {
    const emu = await e.emulator({ enableScriptChecks: true });
    const reg = await e.registrator(["-ip", "127.0.0.1", `consul://127.0.0.1:${emu.port}`]);
    const mark = reg.mark();
    const script = await e.redisContainer(["-e", "SERVICE_CHECK_SCRIPT=touch /tmp/pwned"], "noscript");
    const cmd = await e.redisContainer(["-e", "SERVICE_CHECK_CMD=/bin/true"], "nocmd");
    for (const [c, key] of [[script, "SERVICE_CHECK_SCRIPT"], [cmd, "SERVICE_CHECK_CMD"]] as const) {
      await waitFor(() => emu.services()[c.serviceId], { message: `${c.serviceId} never registered` });
      const warning = await reg.waitForLine(new RegExp(`${escapeRe(key)}\\b.*"${escapeRe(c.name)}"|"${escapeRe(c.name)}".*${escapeRe(key)}\\b`), 2000, mark);
      expect(warning.input).toContain("-allow-script-checks");
      // One warning per container, not one per attempt.
      expect(linesMatching(reg, new RegExp(`"${escapeRe(c.name)}"`), mark).filter((l) => l.includes(key))).toHaveLength(1);
      const bodies = registerBodies(emu, c.serviceId);
      expect(bodies).toHaveLength(1);
      expect(bodies[0]!.Checks).toBeUndefined();
      expect(checksOf(emu, c.serviceId)).toEqual({});
    }
    expect(reg.running).toBe(true);
    await reg.stop();
  });
});
