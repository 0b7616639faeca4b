import { describe, expect, test } from "bun:test";
import { type CheckInput, deriveChecks, hostPort } from "../../../src/services/checks.ts";
import type { CheckDef } from "../../../src/types.ts";

const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function run(meta: Record<string, string>, over: Partial<CheckInput> = {}) {
  return deriveChecks({
    meta,
    ip: "10.0.0.5",
    port: 8080,
    containerId: ID,
    containerName: "web1",
    exposedPort: 80,
    allowScriptChecks: false,
    ...over,
  });
}

describe("each check kind", () => {
  const cases: Array<{ name: string; meta: Record<string, string>; allow?: boolean; want: CheckDef[] }> = [
    { name: "no check keys → no check", meta: { region: "eu" }, want: [] },
    { name: "http", meta: { check_http: "/health" }, want: [{ kind: "http", target: "http://10.0.0.5:8080/health", interval: "10s" }] },
    {
      name: "http with method, interval, timeout",
      meta: { check_http: "/h", check_http_method: "head", check_interval: "5s", check_timeout: "1s" },
      want: [{ kind: "http", target: "http://10.0.0.5:8080/h", method: "HEAD", interval: "5s", timeout: "1s" }],
    },
    {
      name: "https with method and tls skip verify",
      meta: { check_https: "/s", check_https_method: "POST", check_tls_skip_verify: "true" },
      want: [{ kind: "https", target: "https://10.0.0.5:8080/s", method: "POST", tlsSkipVerify: true, interval: "10s" }],
    },
    { name: "https skip verify off", meta: { check_https: "/s", check_tls_skip_verify: "false" }, want: [{ kind: "https", target: "https://10.0.0.5:8080/s", interval: "10s" }] },
    { name: "tcp", meta: { check_tcp: "true" }, want: [{ kind: "tcp", target: "10.0.0.5:8080", interval: "10s" }] },
    { name: "tcp=false is no check", meta: { check_tcp: "false" }, want: [] },
    { name: "tcp=0 is no check", meta: { check_tcp: "0" }, want: [] },
    { name: "grpc", meta: { check_grpc: "yes" }, want: [{ kind: "grpc", target: "10.0.0.5:8080", interval: "10s" }] },
    {
      name: "grpc with tls",
      meta: { check_grpc: "true", check_grpc_use_tls: "1", check_tls_skip_verify: "on" },
      want: [{ kind: "grpc", target: "10.0.0.5:8080", grpcUseTLS: true, tlsSkipVerify: true, interval: "10s" }],
    },
    { name: "ttl (no interval)", meta: { check_ttl: "30s", check_interval: "5s" }, want: [{ kind: "ttl", ttl: "30s" }] },
    {
      name: "script with substitution, as sh -c",
      meta: { check_script: "nc -z $SERVICE_IP $SERVICE_PORT && echo $SERVICE_IP" },
      allow: true,
      want: [{ kind: "script", args: ["/bin/sh", "-c", "nc -z 10.0.0.5 8080 && echo 10.0.0.5"], interval: "10s" }],
    },
    {
      name: "cmd in registrator's check-cmd form",
      meta: { check_cmd: "/bin/check --fast" },
      allow: true,
      want: [{ kind: "cmd", args: ["check-cmd", "0123456789ab", "80", "/bin/check --fast"], interval: "10s" }],
    },
    {
      name: "initial status and deregister after",
      meta: { check_tcp: "1", check_initial_status: "Critical", check_deregister_after: "90m" },
      want: [{ kind: "tcp", target: "10.0.0.5:8080", interval: "10s", initialStatus: "critical", deregisterAfter: "90m" }],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = run(c.meta, { allowScriptChecks: c.allow ?? false });
      expect(r.checks).toEqual(c.want);
      expect(r.warnings).toEqual([]);
    });
  }
});

describe("order http > https > cmd > script > ttl > tcp > grpc", () => {
  const all = { check_http: "/a", check_https: "/b", check_cmd: "c", check_script: "s", check_ttl: "9s", check_tcp: "1", check_grpc: "1" };
  const order = ["http", "https", "cmd", "script", "ttl", "tcp", "grpc"] as const;
  order.forEach((kind, i) => {
    test(`${kind} wins over the rest`, () => {
      const meta = Object.fromEntries(Object.entries(all).filter(([k]) => order.indexOf(k.slice(6) as (typeof order)[number]) >= i));
      const r = run(meta, { allowScriptChecks: true });
      expect(r.checks.map((c) => c.kind)).toEqual([kind]);
    });
  });
});

describe("script gating", () => {
  test("script without -allow-script-checks: dropped with a warning, next kind used", () => {
    const r = run({ check_script: "true", check_ttl: "20s", check_tcp: "1" });
    expect(r.checks).toEqual([{ kind: "ttl", ttl: "20s" }]);
    expect(r.warnings).toEqual([
      'Dropped the script check SERVICE_CHECK_SCRIPT of container "web1": script checks are disabled (start registrator with -allow-script-checks to forward them)',
    ]);
  });
  test("cmd and script both dropped, tcp used", () => {
    const r = run({ check_cmd: "x", check_script: "y", check_tcp: "true" });
    expect(r.checks.map((c) => c.kind)).toEqual(["tcp"]);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toContain("SERVICE_CHECK_CMD");
    expect(r.warnings[1]).toContain("SERVICE_CHECK_SCRIPT");
  });
  test("only a script: no check, one warning", () => {
    const r = run({ check_script: "y" });
    expect(r.checks).toEqual([]);
    expect(r.warnings).toHaveLength(1);
  });
  test("http still wins over script when gated", () => {
    const r = run({ check_http: "/h", check_script: "y" });
    expect(r.checks.map((c) => c.kind)).toEqual(["http"]);
    expect(r.warnings).toEqual([]);
  });
});

describe("bad definitions are dropped with a warning naming container, key and what is valid", () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ["path without leading slash", { check_http: "health" }, 'Dropped the http check of container "web1": SERVICE_CHECK_HTTP "health" is not a path starting with "/"'],
    ["path with whitespace", { check_https: "/a b" }, 'SERVICE_CHECK_HTTPS "/a b" is not a path starting with "/"'],
    ["bad interval", { check_http: "/h", check_interval: "10" }, 'SERVICE_CHECK_INTERVAL "10" is not a positive Go duration such as "10s"'],
    ["bad timeout", { check_tcp: "1", check_timeout: "1 s" }, 'SERVICE_CHECK_TIMEOUT "1 s" is not a positive Go duration'],
    ["negative ttl", { check_ttl: "-5s" }, 'Dropped the ttl check of container "web1": SERVICE_CHECK_TTL "-5s" is not a positive Go duration'],
    ["zero ttl", { check_ttl: "0" }, 'SERVICE_CHECK_TTL "0" is not a positive'],
    ["unit-less ttl", { check_ttl: "30" }, 'SERVICE_CHECK_TTL "30" is not a positive'],
    ["bad deregister after", { check_tcp: "1", check_deregister_after: "1d" }, 'SERVICE_CHECK_DEREGISTER_AFTER "1d"'],
    ["bad method", { check_http: "/h", check_http_method: "GE T" }, 'SERVICE_CHECK_HTTP_METHOD "GE T" is not an HTTP method'],
    ["bad initial status", { check_tcp: "1", check_initial_status: "ok" }, 'SERVICE_CHECK_INITIAL_STATUS "ok" is not one of "passing", "warning", "critical"'],
  ];
  for (const [name, meta, warning] of cases) {
    test(name, () => {
      const r = run(meta);
      expect(r.checks).toEqual([]);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain(warning);
    });
  }
  test("the key is named as written (per-port form)", () => {
    const r = run({ check_http: "x" }, { source: { check_http: "SERVICE_80_CHECK_HTTP" } });
    expect(r.warnings[0]).toContain('SERVICE_80_CHECK_HTTP "x"');
  });
  test("a bad first kind does not fall through to the next kind", () => {
    const r = run({ check_http: "nope", check_tcp: "1" });
    expect(r.checks).toEqual([]);
  });
});

describe("numbered extra checks", () => {
  test("CHECK_2_*, CHECK_3_* each with own settings, ascending after the first", () => {
    const r = run({
      check_http: "/h",
      check_interval: "3s",
      check_3_tcp: "true",
      check_3_timeout: "2s",
      check_2_ttl: "15s",
      check_10_https: "/x",
      check_10_interval: "1m",
    });
    expect(r.checks).toEqual([
      { kind: "http", target: "http://10.0.0.5:8080/h", interval: "3s" },
      { kind: "ttl", ttl: "15s" },
      { kind: "tcp", target: "10.0.0.5:8080", interval: "10s", timeout: "2s" },
      { kind: "https", target: "https://10.0.0.5:8080/x", interval: "1m" },
    ]);
    expect(r.warnings).toEqual([]);
  });
  test("numbered group without a first check", () => {
    expect(run({ check_2_tcp: "1" }).checks).toEqual([{ kind: "tcp", target: "10.0.0.5:8080", interval: "10s" }]);
  });
  test("a bad numbered group drops only itself", () => {
    const r = run({ check_tcp: "1", check_2_http: "/h", check_2_interval: "soon" });
    expect(r.checks.map((c) => c.kind)).toEqual(["tcp"]);
    expect(r.warnings[0]).toContain('SERVICE_CHECK_2_INTERVAL "soon"');
  });
  test("numbered script gated too", () => {
    const r = run({ check_2_script: "x" });
    expect(r.checks).toEqual([]);
    expect(r.warnings[0]).toContain("SERVICE_CHECK_2_SCRIPT");
  });
  test("numbered group with settings but no kind warns", () => {
    const r = run({ check_2_interval: "5s" });
    expect(r.checks).toEqual([]);
    expect(r.warnings).toEqual([
      'Ignored SERVICE_CHECK_2_INTERVAL of container "web1": no check kind is set in its group (one of CHECK_2_HTTP, CHECK_2_HTTPS, CHECK_2_CMD, CHECK_2_SCRIPT, CHECK_2_TTL, CHECK_2_TCP, CHECK_2_GRPC, CHECK_2_UDP, CHECK_2_H2PING, CHECK_2_DOCKER)',
    ]);
  });
  test("a numbered kind switched off is no check and no warning", () => {
    expect(run({ check_2_tcp: "false" })).toEqual({ checks: [], warnings: [] });
  });
  test("check_1_* and check_02_* are not groups", () => {
    expect(run({ check_1_tcp: "1", check_02_tcp: "1" })).toEqual({ checks: [], warnings: [] });
  });
});

describe("IPv6 targets are bracketed", () => {
  test("http, tcp", () => {
    expect(run({ check_http: "/h" }, { ip: "fd00::5" }).checks[0]?.target).toBe("http://[fd00::5]:8080/h");
    expect(run({ check_tcp: "1" }, { ip: "fd00::5" }).checks[0]?.target).toBe("[fd00::5]:8080");
  });
  test("hostPort", () => {
    expect(hostPort("1.2.3.4", 80)).toBe("1.2.3.4:80");
    expect(hostPort("::1", "80")).toBe("[::1]:80");
  });
});

describe("the rest of what the Consul agent accepts", () => {
  const cases: Array<{ name: string; meta: Record<string, string>; source?: Record<string, string>; allow?: boolean; want: CheckDef[] }> = [
    {
      name: "several headers, repeated values, the name as written",
      meta: { check_http: "/h", "check_http_header_x-probe": "a, b", check_http_header_authorization: "Bearer t" },
      source: { "check_http_header_x-probe": "SERVICE_CHECK_HTTP_HEADER_X-Probe", check_http_header_authorization: "SERVICE_80_CHECK_HTTP_HEADER_Authorization" },
      want: [{ kind: "http", target: "http://10.0.0.5:8080/h", headers: { Authorization: ["Bearer t"], "X-Probe": ["a", "b"] }, interval: "10s" }],
    },
    {
      name: "https with a body and a TLS server name",
      meta: { check_https: "/h", check_http_method: "POST", check_https_method: "POST", check_http_body: '{"ping": 1}', check_tls_server_name: "api.example.com" },
      want: [{ kind: "https", target: "https://10.0.0.5:8080/h", method: "POST", body: '{"ping": 1}', tlsServerName: "api.example.com", interval: "10s" }],
    },
    { name: "udp", meta: { check_udp: "true" }, want: [{ kind: "udp", target: "10.0.0.5:8080", interval: "10s" }] },
    { name: "udp=false is no check", meta: { check_udp: "false" }, want: [] },
    { name: "h2ping: TLS unless told otherwise (Consul's default)", meta: { check_h2ping: "true" }, want: [{ kind: "h2ping", target: "10.0.0.5:8080", h2pingUseTLS: true, interval: "10s" }] },
    {
      name: "h2ping cleartext",
      meta: { check_h2ping: "1", check_h2ping_use_tls: "false" },
      want: [{ kind: "h2ping", target: "10.0.0.5:8080", h2pingUseTLS: false, interval: "10s" }],
    },
    {
      name: "h2ping with server name and skip verify",
      meta: { check_h2ping: "1", check_tls_server_name: "h2.example", check_tls_skip_verify: "true" },
      want: [{ kind: "h2ping", target: "10.0.0.5:8080", h2pingUseTLS: true, tlsSkipVerify: true, tlsServerName: "h2.example", interval: "10s" }],
    },
    {
      name: "docker: the command in this container",
      meta: { check_docker: "pgrep nginx", check_interval: "30s" },
      allow: true,
      want: [{ kind: "docker", args: ["/bin/sh", "-c", "pgrep nginx"], containerId: ID, interval: "30s" }],
    },
    {
      name: "output size and thresholds on any kind",
      meta: { check_tcp: "true", check_output_max_size: "1024", check_success_before_passing: "2", check_failures_before_critical: "0" },
      want: [{ kind: "tcp", target: "10.0.0.5:8080", outputMaxSize: 1024, successBeforePassing: 2, failuresBeforeCritical: 0, interval: "10s" }],
    },
    {
      name: "numbered groups have their own headers",
      meta: { check_http: "/a", check_http_header_x: "1", check_2_http: "/b", check_2_http_header_y: "2" },
      want: [
        { kind: "http", target: "http://10.0.0.5:8080/a", headers: { x: ["1"] }, interval: "10s" },
        { kind: "http", target: "http://10.0.0.5:8080/b", headers: { y: ["2"] }, interval: "10s" },
      ],
    },
    { name: "headers and body do not apply to tcp", meta: { check_tcp: "1", check_http_header_x: "1", check_http_body: "b" }, want: [{ kind: "tcp", target: "10.0.0.5:8080", interval: "10s" }] },
    { name: "kinds order: udp after grpc", meta: { check_grpc: "1", check_udp: "1" }, want: [{ kind: "grpc", target: "10.0.0.5:8080", interval: "10s" }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = run(c.meta, { allowScriptChecks: c.allow ?? false, source: c.source });
      expect(JSON.parse(JSON.stringify(r.checks))).toEqual(c.want);
      expect(r.warnings).toEqual([]);
    });
  }

  test("docker checks are script-gated: dropped with a warning, the next kind is used", () => {
    const r = run({ check_docker: "true", check_ttl: "30s" });
    expect(r.checks).toEqual([{ kind: "ttl", ttl: "30s" }]);
    const d = run({ check_docker: "pgrep x" });
    expect(d.checks).toEqual([]);
    expect(d.warnings).toEqual([
      'Dropped the docker check SERVICE_CHECK_DOCKER of container "web1": script checks are disabled (start registrator with -allow-script-checks to forward them)',
    ]);
  });

  const bad: Array<[string, Record<string, string>, string]> = [
    ["a header name that is no token", { check_http: "/h", "check_http_header_x probe": "1" }, 'Dropped the http check of container "web1": SERVICE_CHECK_HTTP_HEADER_X PROBE "x probe" is not an HTTP header name'],
    ["an empty header value", { check_http: "/h", check_http_header_x: " , " }, 'Dropped the http check of container "web1": SERVICE_CHECK_HTTP_HEADER_X " , " is not a header value'],
    ["a header value with a newline", { check_http: "/h", check_http_header_x: "a\r\nInjected: 1" }, "is not a header value"],
    ["a TLS server name with a slash", { check_https: "/h", check_tls_server_name: "a/b" }, 'SERVICE_CHECK_TLS_SERVER_NAME "a/b" is not a host name'],
    ["a negative output size", { check_tcp: "1", check_output_max_size: "-1" }, 'SERVICE_CHECK_OUTPUT_MAX_SIZE "-1" is not a whole number from 1 to 2147483647'],
    ["output size 0", { check_tcp: "1", check_output_max_size: "0" }, "is not a whole number from 1"],
    ["a fractional threshold", { check_tcp: "1", check_success_before_passing: "1.5" }, 'SERVICE_CHECK_SUCCESS_BEFORE_PASSING "1.5" is not a whole number from 0'],
    ["a word for a threshold", { check_udp: "1", check_failures_before_critical: "three" }, 'Dropped the udp check of container "web1": SERVICE_CHECK_FAILURES_BEFORE_CRITICAL "three"'],
  ];
  test.each(bad)("%s drops that check with one warning", (_name, meta, warning) => {
    const r = run(meta);
    expect(r.checks).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain(warning);
  });
});
