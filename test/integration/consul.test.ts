// Consul agent adapter against the strict agent emulator (test/support/consul): every check kind
// registers without a 400, list/fingerprint agree, TTL heartbeats survive an agent restart, ACLs.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RegistryError } from "../../src/errors.ts";
import { ConsulClient } from "../../src/registries/consul-client.ts";
import { ConsulAdapter, consulFactory, parseConsulUri } from "../../src/registries/consul.ts";
import type { CheckDef, RegistryAdapter } from "../../src/types.ts";
import { type ConsulEmulator, startConsulEmulator } from "../support/consul/index.ts";
import { type ContextOptions, type ServiceOverrides, adapterContext, rejection, testService } from "../support/fixtures.ts";
import { tempDir, waitFor } from "../support/proc.ts";

/** Tags and Meta the agent must keep; warnings name container "web". */
const svc = (over: ServiceOverrides = {}) =>
  testService({
    id: "host1:web:80",
    tags: ["v1", "prod"],
    attrs: { version: "1.2", check_http: "/health" },
    origin: { containerName: "web" },
    ...over,
  });

/** Every register request the emulator answered with a 4xx, with its answer status: none expected. */
const badRequests = (emu: ConsulEmulator) => emu.requests.filter((r) => r.status >= 400 && r.status < 500 && r.status !== 404);

describe("consul agent adapter", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator({ enableScriptChecks: true });
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const adapter = (o: ContextOptions = {}) => {
    const { ctx, log } = adapterContext(o);
    return { a: consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx), log };
  };

  test("ping", async () => {
    await adapter().a.ping();
    expect(emu.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/status/leader", status: 200 });
  });

  const kinds: Array<[string, CheckDef, Record<string, unknown>]> = [
    ["http", { kind: "http", target: "http://10.0.0.2:8080/health", method: "HEAD", timeout: "2s", interval: "5s" }, { Type: "http", Interval: "5s", Timeout: "2s" }],
    ["https", { kind: "https", target: "https://10.0.0.2:8443/health", tlsSkipVerify: true, interval: "10s" }, { Type: "http", Interval: "10s" }],
    ["tcp", { kind: "tcp", target: "10.0.0.2:8080", interval: "15s" }, { Type: "tcp", Interval: "15s" }],
    ["grpc", { kind: "grpc", target: "10.0.0.2:9090/health", grpcUseTLS: true, tlsSkipVerify: true, interval: "10s" }, { Type: "grpc", Interval: "10s" }],
    ["ttl", { kind: "ttl", ttl: "30s", initialStatus: "passing" }, { Type: "ttl", Status: "passing" }],
    ["script", { kind: "script", args: ["/bin/sh", "-c", "nc -z 10.0.0.2 8080"], interval: "30s" }, { Type: "script", Interval: "30s" }],
    ["cmd", { kind: "cmd", args: ["check-cmd", "0123456789ab", "80", "true"], interval: "30s" }, { Type: "script", Interval: "30s" }],
    ["http with status and deregister", { kind: "http", target: "http://10.0.0.2:8080/", initialStatus: "warning", deregisterAfter: "5m" }, { Type: "http", Status: "warning" }],
    ["udp", { kind: "udp", target: "10.0.0.2:8080", interval: "10s" }, { Type: "udp", Interval: "10s" }],
    ["h2ping", { kind: "h2ping", target: "10.0.0.2:8080", h2pingUseTLS: false, interval: "10s" }, { Type: "h2ping", Interval: "10s" }],
    ["docker", { kind: "docker", args: ["/bin/sh", "-c", "pgrep x"], containerId: "f".repeat(64), interval: "30s" }, { Type: "docker", Interval: "30s" }],
  ];

  test.each(kinds)("%s check: register, list, deregister", async (_name, check, expected) => {
    emu.clearLog();
    const { a } = adapter({ allowScriptChecks: true });
    const s = svc({ id: `host1:web-${check.kind}:80`, checks: [check], enableTagOverride: true });
    await a.register(s);
    expect(badRequests(emu)).toEqual([]);
    expect(emu.services()[s.id]).toMatchObject({
      ID: s.id,
      Service: "web",
      Tags: ["v1", "prod"],
      Address: "10.0.0.2",
      Port: 8080,
      Meta: { check_http: "/health", version: "1.2" },
      EnableTagOverride: true,
    });
    expect(emu.checks()[`service:${s.id}`]).toMatchObject({ ServiceID: s.id, ...expected });

    const listed = (await a.list!()).find((l) => l.id === s.id);
    expect(listed).toMatchObject({ id: s.id, name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp" });
    expect(listed!.fingerprint).toBe(a.fingerprint!(s));

    await a.deregister(s);
    expect(emu.services()[s.id]).toBeUndefined();
    expect(emu.checks()[`service:${s.id}`]).toBeUndefined();
    await a.deregister(s); // already gone: 404 counts as done
    expect(emu.requests.at(-1)).toMatchObject({ path: `/v1/agent/service/deregister/${encodeURIComponent(s.id)}`, status: 404 });
  });

  test("the new check fields and Weights go in the register body exactly as Consul names them", async () => {
    emu.clearLog();
    const { a } = adapter({ allowScriptChecks: true });
    const s = svc({
      id: "host1:fields:80",
      weights: { passing: 10, warning: 2 },
      checks: [
        { kind: "https", target: "https://10.0.0.2:8080/h", method: "POST", headers: { "X-Probe": ["a", "b"], Accept: ["*/*"] }, body: "{}", tlsServerName: "api.example.com", interval: "10s" },
        { kind: "udp", target: "10.0.0.2:8080", outputMaxSize: 100, successBeforePassing: 2, failuresBeforeCritical: 3, interval: "5s" },
        { kind: "h2ping", target: "10.0.0.2:8080", h2pingUseTLS: true, interval: "10s" },
        { kind: "docker", args: ["/bin/sh", "-c", "true"], containerId: "c".repeat(64), interval: "30s" },
      ],
    });
    await a.register(s);
    expect(badRequests(emu)).toEqual([]);
    const req = emu.requests.find((r) => r.path === "/v1/agent/service/register");
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    expect(body.Weights).toEqual({ Passing: 10, Warning: 2 });
    expect(body.Checks).toEqual([
      { HTTP: "https://10.0.0.2:8080/h", Method: "POST", Header: { "X-Probe": ["a", "b"], Accept: ["*/*"] }, Body: "{}", TLSServerName: "api.example.com", Interval: "10s" },
      { UDP: "10.0.0.2:8080", OutputMaxSize: 100, SuccessBeforePassing: 2, FailuresBeforeCritical: 3, Interval: "5s" },
      { H2PING: "10.0.0.2:8080", H2PingUseTLS: true, Interval: "10s" },
      { DockerContainerID: "c".repeat(64), Shell: "/bin/sh", Args: ["/bin/sh", "-c", "true"], Interval: "30s" },
    ]);
    expect(emu.services()[s.id]?.Weights).toEqual({ Passing: 10, Warning: 2 });
    const types = [1, 2, 3, 4].map((n) => emu.checks()[`service:${s.id}:${n}`]?.Type);
    expect(types).toEqual(["http", "udp", "h2ping", "docker"]);
    // Weights are part of what anti-entropy compares: listed and expected agree.
    expect((await a.list!()).find((l) => l.id === s.id)?.fingerprint).toBe(a.fingerprint!(s));
    expect(a.fingerprint!({ ...s, weights: undefined })).not.toBe(a.fingerprint!(s));
    await a.deregister(s);
  });

  test("several checks; re-registering replaces the old checks", async () => {
    const { a } = adapter();
    const s = svc({
      id: "host1:multi:80",
      checks: [
        { kind: "http", target: "http://10.0.0.2:8080/health", interval: "10s" },
        { kind: "tcp", target: "10.0.0.2:8080", interval: "10s" },
      ],
    });
    await a.register(s);
    expect(Object.keys(emu.checks()).filter((k) => k.includes("multi")).sort()).toEqual([
      "service:host1:multi:80:1",
      "service:host1:multi:80:2",
    ]);
    await a.register({ ...s, checks: [{ kind: "ttl", ttl: "1m" }] });
    expect(Object.keys(emu.checks()).filter((k) => k.includes("multi"))).toEqual(["service:host1:multi:80"]);
    await a.deregister(s);
  });

  test("a bad Meta key is dropped with a warning; the service still registers", async () => {
    const { a, log } = adapter();
    const long = "x".repeat(600);
    const s = svc({ id: "host1:meta:80", attrs: { good: "1", "bad.key": "2", "consul-internal": "3", big: long } });
    await a.register(s);
    expect(emu.services()[s.id]?.Meta).toEqual({ good: "1" });
    const warnings = log.lines.filter((l) => l.level === "warn").map((l) => l.msg);
    expect(warnings).toHaveLength(3);
    for (const key of ["bad.key", "consul-internal", "big"]) {
      expect(warnings.some((w) => w.includes(key) && w.includes('container "web"'))).toBe(true);
    }
    expect((await a.list!()).find((l) => l.id === s.id)?.fingerprint).toBe(a.fingerprint!(s));
    await a.deregister(s);
  });

  test("script checks are not forwarded without -allow-script-checks", async () => {
    const { a, log } = adapter({ allowScriptChecks: false });
    const s = svc({ id: "host1:script:80", checks: [{ kind: "script", args: ["/bin/sh", "-c", "rm -rf /"] }] });
    await a.register(s);
    expect(emu.services()[s.id]).toBeDefined();
    expect(Object.values(emu.checks()).filter((c) => c.ServiceID === s.id)).toEqual([]);
    expect(log.lines.some((l) => l.level === "warn" && l.msg.includes("-allow-script-checks"))).toBe(true);
    await a.deregister(s);
  });

  test("an in-sync agent lists equal fingerprints; a changed entry does not", async () => {
    const { a } = adapter();
    const services = [
      svc({ id: "host1:a:80", tags: [] }),
      svc({ id: "host1:b:53:udp", name: "dns", protocol: "udp", port: 53, tags: ["udp"], attrs: {} }),
      svc({ id: "host1:c:80", ip: "fd00::5", enableTagOverride: true }),
    ];
    for (const s of services) await a.register(s);
    const listed = await a.list!();
    for (const s of services) {
      const l = listed.find((x) => x.id === s.id);
      expect(l?.fingerprint).toBe(a.fingerprint!(s));
      expect(l?.protocol).toBe(s.protocol);
    }
    // Someone changes a tag behind our back.
    const changed = { ...services[0]!, tags: ["edited"] };
    await adapter().a.register(changed);
    const after = (await a.list!()).find((x) => x.id === changed.id);
    expect(after?.fingerprint).not.toBe(a.fingerprint!(services[0]!));
    for (const s of services) await a.deregister(s);
  });

  test("agent errors carry status and body", async () => {
    const { a } = adapter();
    emu.fail({ status: 500, paths: /\/register$/ });
    try {
      const e = await rejection(a.register(svc({ id: "host1:err:80" })), RegistryError);
      expect(e.message).toBe('Cannot register "host1:err:80" in consul: 500 rpc error making call: No cluster leader');
      expect(e.status).toBe(500);
    } finally {
      emu.fail(null);
    }
    // The agent's own validation answer is passed through too.
    const e = await rejection(a.register(svc({ id: "host1:err:80", ip: "0.0.0.0" })), RegistryError);
    expect(e.message).toBe('Cannot register "host1:err:80" in consul: 400 Invalid service address');
  });

  test("script checks sent to an agent without enable_script_checks: one hint quoting the agent, then registered without them", async () => {
    const other = await startConsulEmulator();
    try {
      const { ctx, log } = adapterContext({ allowScriptChecks: true });
      const a = consulFactory(parseRegistryUri(`consul://127.0.0.1:${other.port}`), ctx);
      const s = svc({ checks: [{ kind: "script", args: ["/bin/true"] }, { kind: "tcp", target: "10.0.0.2:8080" }] });
      await a.register(s);
      expect(other.requests.filter((r) => r.path.endsWith("/register")).map((r) => r.status)).toEqual([500, 200]);
      expect(Object.values(other.checks()).map((c) => c.Type)).toEqual(["tcp"]);
      expect(log.lines.filter((l) => l.msg.includes("Scripts are disabled on this agent")).length).toBe(1);
    } finally {
      await other.stop();
    }
  });

  test("a slow agent times out", async () => {
    const { ctx } = adapterContext();
    const settings = parseConsulUri(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx);
    const a = new ConsulAdapter(new ConsulClient(settings, ctx, 150), ctx);
    emu.fail({ delayMs: 3000, paths: /\/register$/ });
    try {
      // The agent would answer after 3 s; a rejection naming the 0.15 s limit is the timeout's.
      const e = await rejection(a.register(svc({ id: "host1:slow:80" })), RegistryError);
      expect(e.message).toBe(`Cannot register "host1:slow:80" in consul: no answer from http://127.0.0.1:${emu.port} within 0.15s`);
    } finally {
      emu.fail(null);
    }
  });

  test("an unreachable agent is a RegistryError naming the address", async () => {
    const gone = await startConsulEmulator();
    const port = gone.port;
    await gone.stop();
    const e = await rejection(consulFactory(parseRegistryUri(`consul://127.0.0.1:${port}`), adapterContext().ctx).ping(), RegistryError);
    expect(e.message).toStartWith(`Cannot reach consul at http://127.0.0.1:${port}: `);
  });

  test("CONSUL_HTTP_ADDR is used for consul://", async () => {
    const { ctx } = adapterContext({ env: { CONSUL_HTTP_ADDR: emu.address } });
    const a = consulFactory(parseRegistryUri("consul://"), ctx);
    const s = svc({ id: "host1:env:80" });
    await a.register(s);
    expect(emu.services()[s.id]).toBeDefined();
    await a.deregister(s);
  });
});

describe("consul TTL heartbeat (-ttl / -ttl-refresh)", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator();
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("passes the registrator check, and re-registers after an agent restart", async () => {
    const { ctx, log } = adapterContext({ ttl: 30 });
    const a = consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx);
    const s = svc({
      id: "host1:ttl:80",
      attrs: { check_deregister_after: "10m" },
      checks: [{ kind: "http", target: "http://10.0.0.2:8080/health", interval: "10s" }],
    });
    const s2 = svc({ id: "host1:ttl2:80" });
    await a.register(s);
    await a.register(s2);
    const checkId = "registrator:host1:ttl:80";
    expect(emu.checks()[checkId]).toMatchObject({ Type: "ttl", Status: "passing", ServiceID: s.id });
    expect(emu.checks()["service:host1:ttl:80:1"]).toMatchObject({ Type: "http" });

    // The TTL ran out (as the agent would mark it); a refresh passes it again.
    emu.setCheckStatus(checkId, "critical", "TTL expired");
    emu.clearLog();
    await a.refresh([s, s2]);
    expect(emu.checks()[checkId]).toMatchObject({ Status: "passing" });
    expect(emu.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)} ${r.status}`).sort()).toEqual([
      "PUT /v1/agent/check/pass/registrator:host1:ttl2:80 200",
      "PUT /v1/agent/check/pass/registrator:host1:ttl:80 200",
    ]);

    // A -dev agent restart forgets everything: the next refresh gets 404 and registers again.
    await emu.restart();
    expect(emu.services()).toEqual({});
    emu.clearLog();
    await a.refresh([s, s2]);
    expect(Object.keys(emu.services()).sort()).toEqual(["host1:ttl2:80", "host1:ttl:80"]);
    expect(emu.checks()[checkId]).toMatchObject({ Type: "ttl", Status: "passing" });
    expect(emu.requests.filter((r) => r.path.endsWith("/register")).map((r) => r.status)).toEqual([200, 200]);
    expect(badRequests(emu)).toEqual([]);
    expect(log.lines.some((l) => l.msg.includes('Consul agent lost "host1:ttl:80"'))).toBe(true);
  });

  test("a check that lost its TTL (500 does not have associated TTL) also re-registers", async () => {
    const { ctx } = adapterContext({ ttl: 20 });
    const a = consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx);
    const s = svc({ id: "host1:nottl:80" });
    // Someone registered the service with a non-TTL check under our check ID.
    const res = await emu.fetch("/v1/agent/service/register", {
      method: "PUT",
      body: JSON.stringify({ ID: s.id, Name: "web", Port: 1, Check: { CheckID: "registrator:host1:nottl:80", TCP: "10.0.0.2:1", Interval: "10s" } }),
    });
    expect(res.status).toBe(200);
    expect(emu.checks()["registrator:host1:nottl:80"]).toMatchObject({ Type: "tcp" });
    emu.clearLog();
    await a.refresh([s]);
    expect(emu.requests.map((r) => `${decodeURIComponent(r.path)} ${r.status}`)).toEqual([
      "/v1/agent/check/pass/registrator:host1:nottl:80 500",
      "/v1/agent/service/register 200",
      "/v1/agent/check/pass/registrator:host1:nottl:80 200",
    ]);
    expect(emu.checks()["registrator:host1:nottl:80"]).toMatchObject({ Type: "ttl", Status: "passing" });
    expect(emu.services()[s.id]).toMatchObject({ Port: 8080 });
  });

  test("the heartbeat check holds the TTL and the service's deregister-after", async () => {
    const { ctx } = adapterContext({ ttl: 45 });
    const a = consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx);
    const s = svc({ id: "host1:ttl3:80", attrs: { check_deregister_after: "2m" } });
    emu.clearLog();
    await a.register(s);
    const body = JSON.parse(emu.requests.at(-1)!.body);
    expect(body.Checks).toEqual([
      expect.objectContaining({ CheckID: "registrator:host1:ttl3:80", TTL: "45s", DeregisterCriticalServiceAfter: "2m" }),
    ]);
    expect(body.Checks[0].Interval).toBeUndefined();
  });
});

describe("consul ACL token", () => {
  let emu: ConsulEmulator;
  const TOKEN = "b1gs3cret-0000-4000-8000-000000000001";
  beforeAll(async () => {
    emu = await startConsulEmulator({ token: TOKEN });
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const adapter = (env: Record<string, string>) => {
    const { ctx, log } = adapterContext({ env });
    return { a: consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx), log };
  };

  test("the right token registers, lists and deregisters", async () => {
    const { a } = adapter({ CONSUL_HTTP_TOKEN: TOKEN });
    const s = svc({ id: "host1:acl:80" });
    await a.ping();
    await a.register(s);
    expect(emu.services()[s.id]).toBeDefined();
    expect(emu.requests.at(-1)?.headers["x-consul-token"]).toBe(TOKEN);
    expect((await a.list!()).map((l) => l.id)).toContain(s.id);
    await a.deregister(s);
    expect(emu.services()[s.id]).toBeUndefined();
  });

  test("CONSUL_HTTP_TOKEN_FILE wins over CONSUL_HTTP_TOKEN", async () => {
    const file = join(tempDir("consul-token-"), "token");
    writeFileSync(file, `  ${TOKEN}\n`);
    const { a } = adapter({ CONSUL_HTTP_TOKEN: "wrong-token", CONSUL_HTTP_TOKEN_FILE: file });
    const s = svc({ id: "host1:aclfile:80" });
    await a.register(s);
    expect(emu.services()[s.id]).toBeDefined();
    await a.deregister(s);
  });

  test("a wrong token: 403 with the ACL hint, the token never shown, nothing logged by the adapter", async () => {
    const wrong = "wr0ng-token-value-123";
    const { a, log } = adapter({ CONSUL_HTTP_TOKEN: wrong });
    const s = svc({ id: "host1:denied:80" });
    for (let i = 0; i < 3; i++) {
      const e = await rejection(a.register(s), RegistryError);
      expect(e.status).toBe(403);
      expect(e.message).toBe(
        `Cannot register "host1:denied:80" in consul: 403 ACL not found (check CONSUL_HTTP_TOKEN / the token's service:write policy)`,
      );
    }
    expect(emu.services()[s.id]).toBeUndefined();
    // Reporting (once per service) is the bridge's; see test/e2e/consul-secure.test.ts.
    expect(log.lines.filter((l) => l.level === "error")).toHaveLength(0);
    expect(JSON.stringify(log.lines)).not.toContain(wrong);
  });

  test("no token: permission denied with the ACL hint", async () => {
    const { a } = adapter({});
    const e = await rejection(a.register(svc({ id: "host1:anon:80" })), RegistryError);
    expect(e.status).toBe(403);
    expect(e.message).toContain("Permission denied");
    expect(e.message).toContain("check CONSUL_HTTP_TOKEN / the token's service:write policy");
  });
});

describe("consul over a unix socket", () => {
  let emu: ConsulEmulator;
  let sock: string;
  beforeAll(async () => {
    sock = join(tempDir("consul-sock-"), "consul.sock");
    emu = await startConsulEmulator({ unixSocket: sock });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("consul-unix:///path registers, lists and deregisters", async () => {
    const a: RegistryAdapter = consulFactory(parseRegistryUri(`consul-unix://${sock}`), adapterContext().ctx);
    const s = svc({ id: "host1:unix:80", checks: [{ kind: "tcp", target: "10.0.0.2:8080", interval: "10s" }] });
    await a.ping();
    await a.register(s);
    expect(emu.services()[s.id]).toMatchObject({ Service: "web", Port: 8080 });
    expect((await a.list!()).find((l) => l.id === s.id)?.fingerprint).toBe(a.fingerprint!(s));
    await a.deregister(s);
    await waitFor(() => emu.services()[s.id] === undefined, { timeout: 2000, message: "service gone" });
  });

  test("CONSUL_HTTP_ADDR=unix:///path works for consul://", async () => {
    const a = consulFactory(parseRegistryUri("consul://"), adapterContext({ env: { CONSUL_HTTP_ADDR: emu.address } }).ctx);
    await a.ping();
    expect(emu.address).toBe(`unix://${sock}`);
  });
});

describe("consul: Docker health mirror and maintenance (-health auto, -deregister-on-stop)", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator();
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const make = () => {
    const { ctx } = adapterContext({});
    return consulFactory(parseRegistryUri(`consul://127.0.0.1:${emu.port}`), ctx);
  };
  const passing = async (name: string) => {
    const r = await fetch(`http://127.0.0.1:${emu.port}/v1/health/service/${name}?passing`);
    return ((await r.json()) as Array<{ Service: { ID: string } }>).map((e) => e.Service.ID);
  };
  const mirrorId = (id: string) => `registrator:${id}:docker-health`;

  test("the adapter says it mirrors health", () => {
    expect(make().mirrorsHealth).toBe(true);
  });

  test("a mirror registers one registrator-owned TTL check with the mirror's status and output", async () => {
    const a = make();
    const s = svc({ id: "host1:hc:80", name: "hc", mirror: { status: "critical", output: "Docker health: starting" } });
    await a.register(s);
    expect(emu.checks()[mirrorId(s.id)]).toMatchObject({ Name: "Docker health", Type: "ttl", Status: "critical", Output: "Docker health: starting", ServiceID: s.id });
    expect(await passing("hc")).toEqual([]);
    await a.setHealth?.({ ...s, mirror: { status: "passing", output: "HTTP 200" } });
    expect(emu.checks()[mirrorId(s.id)]).toMatchObject({ Status: "passing", Output: "HTTP 200" });
    expect(await passing("hc")).toEqual([s.id]);
    expect(badRequests(emu)).toEqual([]);
  });

  test("re-registering sets the mirror status even though the agent keeps an existing check's status", async () => {
    const a = make();
    const s = svc({ id: "host1:hc2:80", name: "hc2", mirror: { status: "passing", output: "ok" } });
    await a.register(s);
    await a.register({ ...s, mirror: { status: "critical", output: "unhealthy now" } });
    expect(emu.checks()[mirrorId(s.id)]).toMatchObject({ Status: "critical", Output: "unhealthy now" });
  });

  test("no mirror: no extra check, and setHealth sends nothing", async () => {
    const a = make();
    const s = svc({ id: "host1:plain:80", name: "plain" });
    await a.register(s);
    expect(emu.checks()[mirrorId(s.id)]).toBeUndefined();
    emu.clearLog();
    await a.setHealth?.(s);
    expect(emu.requests).toEqual([]);
  });

  test("setHealth of a service the agent lost → RegistryError with status 404", async () => {
    const a = make();
    const s = svc({ id: "host1:lost:80", name: "lost", mirror: { status: "passing", output: "" } });
    const err = await rejection(a.setHealth!(s), RegistryError);
    expect(err.status).toBe(404);
    expect(err.message).toContain('Cannot set the Docker health check of "host1:lost:80" in consul: 404');
  });

  test("the mirror does not change the fingerprint", async () => {
    const a = make();
    const s = svc({ id: "host1:fp:80", name: "fp" });
    expect(a.fingerprint!({ ...s, mirror: { status: "critical", output: "x" } })).toBe(a.fingerprint!(s));
    await a.register({ ...s, mirror: { status: "critical", output: "x" } });
    const listed = (await a.list!()).find((l) => l.id === s.id);
    expect(listed?.fingerprint).toBe(a.fingerprint!({ ...s, mirror: { status: "passing", output: "y" } }));
  });

  test("maintenance takes the service out of ?passing with the reason, and puts it back", async () => {
    const a = make();
    const s = svc({ id: "host1:drain:80", name: "drain" });
    await a.register(s);
    expect(await passing("drain")).toEqual([s.id]);
    await a.maintenance!(s, true, "container stopping (SIGTERM)");
    expect(emu.checks()[`_service_maintenance:${s.id}`]).toMatchObject({ Status: "critical", Notes: "container stopping (SIGTERM)" });
    expect(await passing("drain")).toEqual([]);
    await a.maintenance!(s, true, "again"); // idempotent
    await a.maintenance!(s, false, "");
    expect(emu.checks()[`_service_maintenance:${s.id}`]).toBeUndefined();
    expect(await passing("drain")).toEqual([s.id]);
    const q = emu.requests.filter((r) => r.path.includes("/maintenance/")).map((r) => `${r.rawQuery} ${r.status}`);
    expect(q).toEqual(["enable=true&reason=container+stopping+%28SIGTERM%29 200", "enable=true&reason=again 200", "enable=false 200"]);
  });

  test("maintenance: enabling for an unknown service is an error; lifting it is done", async () => {
    const a = make();
    const gone = svc({ id: "host1:gone:80", name: "gone" });
    const err = await rejection(a.maintenance!(gone, true, "x"), RegistryError);
    expect(err.status).toBe(404);
    expect(err.message).toContain('Cannot enable maintenance of "host1:gone:80" in consul: 404 Unknown service ID');
    await a.maintenance!(gone, false, "");
  });
});
