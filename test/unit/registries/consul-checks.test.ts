import { describe, expect, test } from "bun:test";
import {
  consulMeta,
  heartbeatCheck,
  MIRROR_REFRESH_SECONDS,
  MIRROR_TTL_SECONDS,
  metaProblem,
  mirrorCheck,
  mirrorCheckId,
  parseGoDuration,
  toConsulCheck,
  toConsulChecks,
} from "../../../src/registries/consul-checks.ts";
import type { CheckDef } from "../../../src/types.ts";
import { type ServiceOverrides, testService } from "../../support/fixtures.ts";

const service = (over: ServiceOverrides = {}) => testService({ id: "host1:web:80", ...over });

// Every key the agent accepts in a check (protocols.md 2.2); anything else is a 400.
const AGENT_CHECK_KEYS = new Set(
  "CheckID Name Status Notes Args HTTP Header Method Body TCP UDP GRPC GRPCUseTLS H2PING H2PingUseTLS DockerContainerID Shell TLSServerName TLSSkipVerify Interval Timeout TTL SuccessBeforePassing FailuresBeforeCritical OutputMaxSize DeregisterCriticalServiceAfter".split(
    " ",
  ),
);

describe("check conversion", () => {
  test.each<[CheckDef, Record<string, unknown>]>([
    [
      { kind: "http", target: "http://10.0.0.2:8080/health", method: "HEAD", timeout: "2s", interval: "5s" },
      { HTTP: "http://10.0.0.2:8080/health", Method: "HEAD", Timeout: "2s", Interval: "5s" },
    ],
    [
      { kind: "https", target: "https://10.0.0.2:8443/h", tlsSkipVerify: true },
      { HTTP: "https://10.0.0.2:8443/h", TLSSkipVerify: true, Interval: "10s" },
    ],
    [{ kind: "tcp", target: "[2001:db8::1]:80", interval: "15s" }, { TCP: "[2001:db8::1]:80", Interval: "15s" }],
    [
      { kind: "grpc", target: "10.0.0.2:9090/health", grpcUseTLS: true, tlsSkipVerify: true },
      { GRPC: "10.0.0.2:9090/health", GRPCUseTLS: true, TLSSkipVerify: true, Interval: "10s" },
    ],
    [{ kind: "grpc", target: "10.0.0.2:9090", grpcUseTLS: false }, { GRPC: "10.0.0.2:9090", Interval: "10s" }],
    [{ kind: "ttl", ttl: "30s", interval: "10s" }, { TTL: "30s" }],
    [
      { kind: "script", args: ["/bin/sh", "-c", "curl x"], interval: "30s", timeout: "3s" },
      { Args: ["/bin/sh", "-c", "curl x"], Interval: "30s", Timeout: "3s" },
    ],
    [
      { kind: "cmd", args: ["check-cmd", "abcdef012345", "80", "true"] },
      { Args: ["check-cmd", "abcdef012345", "80", "true"], Interval: "10s" },
    ],
    [
      { kind: "http", target: "http://x:1/", initialStatus: "passing", deregisterAfter: "5m" },
      { HTTP: "http://x:1/", Interval: "10s", Status: "passing", DeregisterCriticalServiceAfter: "5m" },
    ],
    [
      { kind: "http", target: "http://x:1/", method: "POST", headers: { "X-Probe": ["a", "b"], Accept: ["*/*"] }, body: "{}" },
      { HTTP: "http://x:1/", Method: "POST", Header: { "X-Probe": ["a", "b"], Accept: ["*/*"] }, Body: "{}", Interval: "10s" },
    ],
    [
      { kind: "https", target: "https://x:1/", tlsServerName: "api.example.com" },
      { HTTP: "https://x:1/", TLSServerName: "api.example.com", Interval: "10s" },
    ],
    [{ kind: "udp", target: "10.0.0.2:53", interval: "5s" }, { UDP: "10.0.0.2:53", Interval: "5s" }],
    [{ kind: "h2ping", target: "10.0.0.2:443", h2pingUseTLS: true }, { H2PING: "10.0.0.2:443", H2PingUseTLS: true, Interval: "10s" }],
    [{ kind: "h2ping", target: "10.0.0.2:80", h2pingUseTLS: false }, { H2PING: "10.0.0.2:80", H2PingUseTLS: false, Interval: "10s" }],
    [
      { kind: "docker", args: ["/bin/sh", "-c", "pgrep x"], containerId: "f".repeat(64) },
      { DockerContainerID: "f".repeat(64), Shell: "/bin/sh", Args: ["/bin/sh", "-c", "pgrep x"], Interval: "10s" },
    ],
    [
      { kind: "tcp", target: "1.2.3.4:80", outputMaxSize: 512, successBeforePassing: 3, failuresBeforeCritical: 0 },
      { TCP: "1.2.3.4:80", OutputMaxSize: 512, SuccessBeforePassing: 3, FailuresBeforeCritical: 0, Interval: "10s" },
    ],
  ])("%p", (def, expected) => {
    const c = toConsulCheck(def, true);
    expect(c).toEqual(expected);
    for (const k of Object.keys(c)) expect(AGENT_CHECK_KEYS.has(k)).toBe(true);
  });

  test("docker checks are script checks: only with -allow-script-checks", () => {
    const r = toConsulChecks([{ kind: "docker", args: ["/bin/sh", "-c", "x"], containerId: "c" }], false);
    expect(r.checks).toEqual([]);
    expect(r.dropped).toEqual([{ key: "check 1 (docker)", reason: "docker checks are only forwarded with -allow-script-checks" }]);
  });

  test("a count Consul would refuse drops that check", () => {
    expect(toConsulCheck({ kind: "tcp", target: "1.2.3.4:80", outputMaxSize: -1 }, true)).toEqual({ problem: "OutputMaxSize -1 must be a whole number, 1 or more" });
    expect(toConsulCheck({ kind: "tcp", target: "1.2.3.4:80", failuresBeforeCritical: 1.5 }, true)).toEqual({ problem: "FailuresBeforeCritical 1.5 must be a whole number, 0 or more" });
  });

  test("a TTL check never carries an Interval (the agent refuses both)", () => {
    expect(toConsulCheck({ kind: "ttl", ttl: "1m", interval: "5s", timeout: "1s" }, true)).toEqual({ TTL: "1m" });
  });

  test("script and cmd checks need -allow-script-checks", () => {
    const { checks, dropped } = toConsulChecks(
      [
        { kind: "script", args: ["/bin/sh", "-c", "x"] },
        { kind: "cmd", args: ["check-cmd", "a", "80", "x"] },
        { kind: "tcp", target: "1.2.3.4:80" },
      ],
      false,
    );
    expect(checks).toEqual([{ TCP: "1.2.3.4:80", Interval: "10s" }]);
    expect(dropped.map((d) => d.key)).toEqual(["check 1 (script)", "check 2 (cmd)"]);
    expect(dropped[0]?.reason).toContain("-allow-script-checks");
  });

  test.each<[CheckDef, RegExp]>([
    [{ kind: "http", target: "http://x/", interval: "10" }, /interval "10" is not a Go duration/],
    [{ kind: "tcp", target: "x:1", interval: "0s" }, /must be greater than zero/],
    [{ kind: "ttl", ttl: "-5s" }, /ttl "-5s" must be greater than zero/],
    [{ kind: "ttl" }, /no TTL/],
    [{ kind: "http", target: "http://x/", timeout: "soon" }, /timeout "soon"/],
    [{ kind: "http", target: "http://x/", deregisterAfter: "-1m" }, /must not be negative/],
    [{ kind: "http" }, /no URL/],
    [{ kind: "tcp" }, /no address/],
    [{ kind: "grpc" }, /no address/],
    [{ kind: "script", args: [] }, /no command/],
  ])("bad check %p is dropped", (def, re) => {
    const r = toConsulCheck(def, true);
    expect("problem" in r && r.problem).toMatch(re);
  });

  test("Go durations", () => {
    expect(parseGoDuration("1m30s")).toBe(90e9);
    expect(parseGoDuration("1.5h")).toBe(5400e9);
    expect(parseGoDuration("300ms")).toBe(300e6);
    expect(parseGoDuration("2µs")).toBe(2000);
    expect(parseGoDuration("0")).toBe(0);
    expect(parseGoDuration("-2s")).toBe(-2e9);
    for (const bad of ["", "10", "s", "1d", "1 s", "1.s.", "+", "."]) expect(parseGoDuration(bad)).toBeUndefined();
  });
});

describe("heartbeat check", () => {
  test("TTL from -ttl, explicit ID, passing at start, no Interval", () => {
    const { check, dropped } = heartbeatCheck(service(), 30);
    expect(check).toMatchObject({ CheckID: "registrator:host1:web:80", TTL: "30s", Status: "passing" });
    expect(check.Interval).toBeUndefined();
    expect(check.DeregisterCriticalServiceAfter).toBeUndefined();
    expect(dropped).toBeUndefined();
    for (const k of Object.keys(check)) expect(AGENT_CHECK_KEYS.has(k)).toBe(true);
  });

  test("check_deregister_after applies", () => {
    expect(heartbeatCheck(service({ attrs: { check_deregister_after: "10m" } }), 30).check.DeregisterCriticalServiceAfter).toBe(
      "10m",
    );
    const bad = heartbeatCheck(service({ attrs: { check_deregister_after: "ten" } }), 30);
    expect(bad.check.DeregisterCriticalServiceAfter).toBeUndefined();
    expect(bad.dropped?.key).toBe("check_deregister_after");
  });
});

describe("Docker health mirror check", () => {
  test("a registrator-owned TTL check with the mirror's status, named after the container", () => {
    const s = service({ mirror: { status: "critical", output: "starting" } });
    const c = mirrorCheck({ ...s, mirror: s.mirror! });
    expect(c).toMatchObject({ CheckID: "registrator:host1:web:80:docker-health", Name: "Docker health", TTL: "90s", Status: "critical" });
    expect(c.Notes).toContain('container "web1"');
    expect(mirrorCheckId("x:y:1:udp")).toBe("registrator:x:y:1:udp:docker-health");
  });
  test("refreshed well within its TTL, and distinct from the -ttl heartbeat check", () => {
    expect(MIRROR_REFRESH_SECONDS * 3).toBeLessThanOrEqual(MIRROR_TTL_SECONDS);
    const s = service({ mirror: { status: "passing", output: "" } });
    expect(mirrorCheck({ ...s, mirror: s.mirror! }).CheckID).not.toBe(heartbeatCheck(s, 30).check.CheckID);
  });
});

describe("Consul Meta", () => {
  test.each([
    ["ok_key-1", "v", undefined],
    ["bad.key", "v", /letters, digits/],
    ["bad key", "v", /letters, digits/],
    ["", "v", /letters, digits/],
    ["k".repeat(128), "v", undefined],
    ["k".repeat(129), "v", /at most 128/],
    ["consul-x", "v", /reserved/],
    ["k", "v".repeat(512), undefined],
    ["k", "v".repeat(513), /at most 512/],
    ["k", "é".repeat(257), /at most 512/],
  ])("%p = %p", (k, v, re) => {
    const p = metaProblem(k, v);
    if (re === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(re);
  });

  test("bad keys are dropped, the rest kept (including check_* attrs)", () => {
    const { meta, dropped } = consulMeta({ check_http: "/health", "bad.key": "x", version: "1", "consul-x": "y" });
    expect(meta).toEqual({ check_http: "/health", version: "1" });
    expect(dropped.map((d) => d.key).sort()).toEqual(["bad.key", "consul-x"]);
  });

  test("at most 64 keys, chosen by sorted key order", () => {
    const attrs: Record<string, string> = {};
    for (let i = 69; i >= 0; i--) attrs[`k${String(i).padStart(2, "0")}`] = String(i);
    const { meta, dropped } = consulMeta(attrs);
    expect(Object.keys(meta)).toHaveLength(64);
    expect(meta.k00).toBe("0");
    expect(meta.k63).toBe("63");
    expect(meta.k64).toBeUndefined();
    expect(dropped.map((d) => d.key)).toEqual(["k64", "k65", "k66", "k67", "k68", "k69"]);
    expect(dropped[0]?.reason).toContain("at most 64");
  });

  test("invalid keys do not count against the 64", () => {
    const attrs: Record<string, string> = { "a.b": "x" };
    for (let i = 0; i < 64; i++) attrs[`k${String(i).padStart(2, "0")}`] = "v";
    expect(Object.keys(consulMeta(attrs).meta)).toHaveLength(64);
  });
});
