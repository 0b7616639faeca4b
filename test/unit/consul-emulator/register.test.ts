// PUT /v1/agent/service/register (protocols.md 2.2–2.4): statuses and texts, IDs, defaults,
// re-registration, replace-existing-checks, script checks.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { call, register } from "./helpers.ts";

const emu: ConsulEmulator = await startConsulEmulator();
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

describe("accepted registrations", () => {
  test("200 with an empty body; the service shows in /v1/agent/services with defaults", async () => {
    const r = await register(emu, { Name: "web", Port: 80 });
    expect(r).toMatchObject({ status: 200, text: "" });
    const services = (await call(emu, "GET", "/v1/agent/services")).json<Record<string, unknown>>();
    expect(services).toEqual({
      web: { ID: "web", Service: "web", Tags: [], Meta: {}, Port: 80, Address: "", Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Datacenter: "dc1" },
    });
  });

  test("full body from protocols.md 2.2 (script check enabled elsewhere) minus the script", async () => {
    const body = {
      ID: "web-3f2a-8080", Name: "web", Tags: ["v1"], Address: "172.17.0.3", Port: 8080,
      Meta: { container_id: "3f2a" }, EnableTagOverride: false, Weights: { Passing: 10, Warning: 1 },
      TaggedAddresses: { lan: { Address: "172.17.0.3", Port: 8080 }, wan: { Address: "203.0.113.5", Port: 18081 } },
      Check: { CheckID: "", Name: "", HTTP: "http://172.17.0.3:8080/health", Method: "GET", Header: { "X-Probe": ["1"] }, Body: "", TLSSkipVerify: false, TLSServerName: "", Interval: "10s", Timeout: "2s", Status: "passing", DeregisterCriticalServiceAfter: "5m" },
      Checks: [{ TTL: "15s" }, { TCP: "172.17.0.3:8080", Interval: "10s" }, { GRPC: "172.17.0.3:9090/health", GRPCUseTLS: false, Interval: "10s" }],
    };
    expect((await register(emu, body)).status).toBe(200);
    const svc = emu.services()["web-3f2a-8080"];
    expect(svc).toMatchObject({ Tags: ["v1"], Meta: { container_id: "3f2a" }, Weights: { Passing: 10, Warning: 1 } });
    // The agent adds lan_ipv4/wan_ipv4 for an IPv4 address, keeping the given lan/wan.
    expect(svc?.TaggedAddresses).toEqual({
      lan: { Address: "172.17.0.3", Port: 8080 },
      lan_ipv4: { Address: "172.17.0.3", Port: 8080 },
      wan: { Address: "203.0.113.5", Port: 18081 },
      wan_ipv4: { Address: "172.17.0.3", Port: 8080 },
    });
    const checks = emu.checks();
    expect(Object.keys(checks).sort()).toEqual(["service:web-3f2a-8080:1", "service:web-3f2a-8080:2", "service:web-3f2a-8080:3", "service:web-3f2a-8080:4"]);
    expect(checks["service:web-3f2a-8080:1"]).toMatchObject({ Type: "http", Status: "passing", Interval: "10s", Timeout: "2s", Name: "Service 'web' check" });
    expect(checks["service:web-3f2a-8080:2"]).toMatchObject({ Type: "ttl", Status: "critical" });
    expect(checks["service:web-3f2a-8080:3"]).toMatchObject({ Type: "tcp", Status: "critical" });
    expect(checks["service:web-3f2a-8080:4"]).toMatchObject({ Type: "grpc" });
  });

  test("an IPv6 address gets lan_ipv6/wan_ipv6", async () => {
    await register(emu, { Name: "v6", Address: "2001:db8::1", Port: 53 });
    expect(Object.keys(emu.services().v6?.TaggedAddresses as object)).toEqual(["lan_ipv6", "wan_ipv6"]);
  });

  test("a hostname address gets no tagged addresses (omitted from the output)", async () => {
    await register(emu, { Name: "h", Address: "db.example", Port: 5432 });
    expect(emu.services().h).not.toHaveProperty("TaggedAddresses");
  });

  test("ID defaults to Name; re-registering the same ID replaces the service", async () => {
    await register(emu, { Name: "web", Tags: ["a"] });
    await register(emu, { Name: "web", Tags: ["b"], Port: 81 });
    expect(emu.services()).toEqual({ web: expect.objectContaining({ Tags: ["b"], Port: 81 }) });
  });

  test("a single check is service:<id>; an explicit CheckID wins; default name", async () => {
    await register(emu, { Name: "a", Check: { TTL: "10s" } });
    await register(emu, { Name: "b", Check: { TTL: "10s", CheckID: "mine", Name: "custom" } });
    expect(emu.checks()["service:a"]).toMatchObject({ Name: "Service 'a' check", Status: "critical", ServiceID: "a", ServiceName: "a", Type: "ttl" });
    expect(emu.checks().mine).toMatchObject({ Name: "custom", ServiceID: "b" });
  });

  test("an empty Check object is no check at all", async () => {
    await register(emu, { Name: "a", Check: {} });
    expect(emu.checks()).toEqual({});
  });

  test("Check then Checks are numbered 1.. when there are several", async () => {
    await register(emu, { Name: "a", Check: { TTL: "10s" }, Checks: [{ TTL: "20s" }] });
    expect(Object.keys(emu.checks()).sort()).toEqual(["service:a:1", "service:a:2"]);
  });

  test("initial status is critical unless Status is given", async () => {
    await register(emu, { Name: "a", Checks: [{ TTL: "10s" }, { TTL: "10s", Status: "warning" }, { TTL: "10s", Status: "passing" }] });
    const c = emu.checks();
    expect([c["service:a:1"]?.Status, c["service:a:2"]?.Status, c["service:a:3"]?.Status]).toEqual(["critical", "warning", "passing"]);
  });

  test("re-registering keeps the existing status and output of a check ID", async () => {
    await register(emu, { Name: "a", Check: { TTL: "10s" } });
    expect((await call(emu, "PUT", "/v1/agent/check/pass/service:a?note=fine")).status).toBe(200);
    await register(emu, { Name: "a", Check: { TTL: "10s", Status: "critical" } });
    expect(emu.checks()["service:a"]).toMatchObject({ Status: "passing", Output: "fine" });
  });

  test("without replace-existing-checks stale checks linger; with it they go", async () => {
    await register(emu, { Name: "a", Checks: [{ TTL: "10s", CheckID: "one" }, { TTL: "10s", CheckID: "two" }] });
    await register(emu, { Name: "a", Check: { TTL: "10s", CheckID: "one" } });
    expect(Object.keys(emu.checks()).sort()).toEqual(["one", "two"]);
    await register(emu, { Name: "a", Check: { TTL: "10s", CheckID: "one" } }, "?replace-existing-checks");
    expect(Object.keys(emu.checks())).toEqual(["one"]);
    await register(emu, { Name: "a" }, "?replace-existing-checks=true");
    expect(emu.checks()).toEqual({});
  });

  test("replace-existing-checks=false does not replace", async () => {
    await register(emu, { Name: "a", Check: { TTL: "10s", CheckID: "one" } });
    await register(emu, { Name: "a" }, "?replace-existing-checks=false");
    expect(Object.keys(emu.checks())).toEqual(["one"]);
  });

  test("an identical re-registration does not move the catalog index", async () => {
    const body = { Name: "a", Port: 1, Check: { TTL: "10s" } };
    await register(emu, body);
    const before = (await call(emu, "GET", "/v1/catalog/service/a")).headers.get("X-Consul-Index");
    await register(emu, body);
    expect((await call(emu, "GET", "/v1/catalog/service/a")).headers.get("X-Consul-Index")).toBe(before);
    await register(emu, { ...body, Port: 2 });
    expect(Number((await call(emu, "GET", "/v1/catalog/service/a")).headers.get("X-Consul-Index"))).toBeGreaterThan(Number(before));
  });

  test("Namespace and Partition are accepted keys (protocols.md 2.2)", async () => {
    expect((await register(emu, { Name: "a", Namespace: "", Partition: "", Kind: "", SocketPath: "", Token: "" })).status).toBe(200);
  });
});

describe("rejected registrations", () => {
  const cases: Array<[string, unknown, number, string]> = [
    ["empty body", "", 400, "Request decode failed: EOF"],
    ["truncated JSON", '{"Name":"web"', 400, "Request decode failed: unexpected EOF"],
    ["bad character", "{Name:1}", 400, "Request decode failed: invalid character 'N' looking for beginning of object key string"],
    ["unknown top-level field", { Name: "web", Service: "web" }, 400, 'Request decode failed: json: unknown field "Service"'],
    ["unknown field inside a Check", { Name: "web", Check: { ID: "x", TTL: "1s" } }, 400, 'Request decode failed: json: unknown field "ID"'],
    ["wrong type", { Name: "web", Port: "80" }, 400, "Request decode failed: json: cannot unmarshal string into Go struct field .Port of type int"],
    ["no Name", { ID: "x" }, 400, "Missing service name"],
    ["Address 0.0.0.0", { Name: "web", Address: "0.0.0.0" }, 400, "Invalid service address"],
    ["Address ::", { Name: "web", Address: "::" }, 400, "Invalid service address"],
    ["Weights.Passing 0", { Name: "web", Weights: { Passing: 0, Warning: 1 } }, 400, "Invalid Weights: Passing must be greater than 0"],
    ["Weights.Warning < 0", { Name: "web", Weights: { Passing: 1, Warning: -1 } }, 400, "Invalid Weights: Warning must be greater or equal than 0"],
    ["Meta key with a dot", { Name: "web", Meta: { "a.b": "1" } }, 400, "Invalid Service Meta: Couldn't load metadata pair ('a.b', '1'): Key contains invalid characters"],
    ["Meta consul- prefix", { Name: "web", Meta: { "consul-x": "1" } }, 400, "Invalid Service Meta: Couldn't load metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use"],
    ["Meta empty key", { Name: "web", Meta: { "": "1" } }, 400, "Invalid Service Meta: Couldn't load metadata pair ('', '1'): Key cannot be blank"],
    ["Meta key too long", { Name: "web", Meta: { ["k".repeat(129)]: "1" } }, 400, `Invalid Service Meta: Couldn't load metadata pair ('${"k".repeat(129)}', '1'): Key is too long (limit: 128 characters)`],
    ["Meta value too long", { Name: "web", Meta: { k: "v".repeat(513) } }, 400, `Invalid Service Meta: Couldn't load metadata pair ('k', '${"v".repeat(513)}'): Value is too long (limit: 512 characters)`],
    ["65 Meta keys", { Name: "web", Meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }, 400, "Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs"],
    ["Interval and TTL", { Name: "web", Check: { TTL: "10s", Interval: "10s" } }, 400, "Invalid check: Interval and TTL cannot both be specified"],
    ["HTTP without Interval", { Name: "web", Check: { HTTP: "http://x/" } }, 400, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"],
    ["TCP without Interval", { Name: "web", Checks: [{ TCP: "x:1" }] }, 400, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"],
    ["no TTL", { Name: "web", Check: { Name: "only a name" } }, 400, "Invalid check: TTL must be > 0 for TTL checks"],
    ["empty entry in Checks", { Name: "web", Checks: [{}] }, 400, "Invalid check: TTL must be > 0 for TTL checks"],
    ["negative TTL", { Name: "web", Check: { TTL: "-1s" } }, 400, "Invalid check: TTL must be > 0 for TTL checks"],
    ["bad status", { Name: "web", Check: { TTL: "10s", Status: "ok" } }, 400, "Status for checks must 'passing', 'warning', 'critical'"],
    ["duration without unit", { Name: "web", Check: { TTL: "10" } }, 400, 'Request decode failed: time: missing unit in duration "10"'],
    ["bad lan_ipv4", { Name: "web", TaggedAddresses: { lan_ipv4: { Address: "nope", Port: 1 } } }, 500, 'Service tagged address "lan_ipv4" must be a valid ipv4 address'],
    ["script check (Args)", { Name: "web", Check: { Args: ["/bin/true"], Interval: "10s" } }, 500, "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"],
    ["script check (ScriptArgs in Checks)", { Name: "web", Checks: [{ ScriptArgs: ["/bin/true"], Interval: "10s" }] }, 500, "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"],
  ];
  test.each(cases)("%s → %d", async (_, body, status, text) => {
    const r = await register(emu, body);
    expect({ status: r.status, text: r.text }).toEqual({ status, text });
    expect(r.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(emu.services()).toEqual({});
  });

  test("validation order: name before address before meta before checks", async () => {
    expect((await register(emu, { Address: "0.0.0.0", Meta: { "a.b": "" } })).text).toBe("Missing service name");
    expect((await register(emu, { Name: "a", Address: "0.0.0.0", Meta: { "a.b": "" } })).text).toBe("Invalid service address");
    expect((await register(emu, { Name: "a", Meta: { "a.b": "" }, Check: { TTL: "0s" } })).text).toMatch(/^Invalid Service Meta/);
  });
});

describe("script checks with enableScriptChecks", () => {
  test("are accepted (never run): status stays as registered", async () => {
    const e = await startConsulEmulator({ enableScriptChecks: true });
    try {
      const r = await register(e, { Name: "s", Check: { Args: ["/bin/sh", "-c", "exit 0"], Interval: "1s", Status: "passing" } });
      expect(r.status).toBe(200);
      expect(e.checks()["service:s"]).toMatchObject({ Type: "script", Status: "passing", Interval: "1s" });
    } finally {
      await e.stop();
    }
  });
});
