import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { describe, expect, test } from "bun:test";
import { ConfigError, RegistryError } from "../../../src/errors.ts";
import type { Runtime, TlsOptions } from "../../../src/runtime/types.ts";
import { ConsulClient } from "../../../src/registries/consul-client.ts";
import { consulFactory } from "../../../src/registries/consul.ts";
import type { Service } from "../../../src/types.ts";
import { type ServiceOverrides, adapterContext, rejection, testService } from "../../support/fixtures.ts";

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  via: string;
  signal?: AbortSignal;
}
type Handler = (r: Seen) => Response | Promise<Response>;

/** A context whose fetches (plain, TLS, unix) record requests and answer with `handler`. */
function fakeCtx(opts: { env?: Record<string, string>; files?: Record<string, string>; ttl?: number; allowScriptChecks?: boolean; handler?: Handler } = {}) {
  const seen: Seen[] = [];
  const tlsOptions: TlsOptions[] = [];
  const unixPaths: string[] = [];
  const filesRead: string[] = [];
  let handler: Handler = opts.handler ?? (() => new Response("", { status: 200 }));
  const make =
    (via: string): typeof fetch =>
    (async (input: RequestInfo | URL, init?: RequestInit) => {
      const r: Seen = {
        method: init?.method ?? "GET",
        url: String(input),
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        via,
        ...(typeof init?.body === "string" ? { body: init.body } : {}),
        ...(init?.signal ? { signal: init.signal } : {}),
      };
      seen.push(r);
      return handler(r);
    }) as typeof fetch;
  const runtime = {
    name: "bun",
    fetchUnix: (p: string) => (unixPaths.push(p), make("unix")),
    fetchTls: (o: TlsOptions) => (tlsOptions.push(o), make("tls")),
    readTextFile: async (p: string) => {
      filesRead.push(p);
      const f = opts.files?.[p];
      if (f === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
      return f;
    },
  } as unknown as Runtime;
  const { ctx, log } = adapterContext({ env: opts.env, ttl: opts.ttl, allowScriptChecks: opts.allowScriptChecks, fetch: make("plain"), runtime });
  return { ctx, seen, tlsOptions, unixPaths, filesRead, log, setHandler: (h: Handler) => void (handler = h) };
}

/** Meta with one key Consul refuses, one HTTP check, tag override on, from container web-1. */
const service = (over: ServiceOverrides = {}) =>
  testService({
    id: "host1:web:80",
    tags: ["v1", "prod"],
    attrs: { version: "1", "bad.key": "x" },
    checks: [{ kind: "http", target: "http://10.0.0.2:8080/health", interval: "5s" }],
    enableTagOverride: true,
    origin: { containerName: "web-1" },
    ...over,
  });

describe("consul adapter", () => {
  test("register sends only agent fields, with replace-existing-checks", async () => {
    const f = fakeCtx();
    const a = consulFactory(parseRegistryUri("consul://127.0.0.1:8500"), f.ctx);
    await a.register(service());
    const r = f.seen[0]!;
    expect(r.method).toBe("PUT");
    expect(r.url).toBe("http://127.0.0.1:8500/v1/agent/service/register?replace-existing-checks");
    expect(r.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(r.body!)).toEqual({
      ID: "host1:web:80",
      Name: "web",
      Tags: ["v1", "prod"],
      Address: "10.0.0.2",
      Port: 8080,
      Meta: { version: "1" },
      EnableTagOverride: true,
      Checks: [{ HTTP: "http://10.0.0.2:8080/health", Interval: "5s" }],
    });
    const warn = f.log.lines.filter((l) => l.level === "warn");
    expect(warn).toHaveLength(1);
    expect(warn[0]!.msg).toContain('"web-1"');
    expect(warn[0]!.msg).toContain("bad.key");
    // A second register does not repeat the warning.
    await a.register(service());
    expect(f.log.lines.filter((l) => l.level === "warn")).toHaveLength(1);
  });

  test("no Checks key without checks; script checks only with allowScriptChecks", async () => {
    const f = fakeCtx();
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.register(service({ checks: [{ kind: "script", args: ["/bin/sh", "-c", "true"] }] }));
    expect(JSON.parse(f.seen[0]!.body!).Checks).toBeUndefined();
    expect(f.log.lines.some((l) => l.level === "warn" && l.msg.includes("-allow-script-checks"))).toBe(true);

    const g = fakeCtx({ allowScriptChecks: true });
    await consulFactory(parseRegistryUri("consul://"), g.ctx).register(service({ checks: [{ kind: "script", args: ["/bin/sh", "-c", "true"] }] }));
    expect(JSON.parse(g.seen[0]!.body!).Checks).toEqual([{ Args: ["/bin/sh", "-c", "true"], Interval: "10s" }]);
  });

  test("-ttl adds the registrator heartbeat check", async () => {
    const f = fakeCtx({ ttl: 30 });
    await consulFactory(parseRegistryUri("consul://"), f.ctx).register(service({ attrs: { check_deregister_after: "2m" } }));
    const checks = JSON.parse(f.seen[0]!.body!).Checks;
    expect(checks).toHaveLength(2);
    expect(checks[1]).toMatchObject({
      CheckID: "registrator:host1:web:80",
      TTL: "30s",
      Status: "passing",
      DeregisterCriticalServiceAfter: "2m",
    });
  });

  test("errors carry the status and body", async () => {
    const f = fakeCtx({ handler: () => new Response("Invalid service address", { status: 400 }) });
    const e = await rejection(consulFactory(parseRegistryUri("consul://"), f.ctx).register(service()), RegistryError);
    expect(e.message).toBe('Cannot register "host1:web:80" in consul: 400 Invalid service address');
    expect(e.status).toBe(400);
    f.setHandler(() => new Response("", { status: 500, statusText: "Internal Server Error" }));
    const e2 = await rejection(consulFactory(parseRegistryUri("consul://"), f.ctx).register(service()), RegistryError);
    expect(e2.message).toBe('Cannot register "host1:web:80" in consul: 500 Internal Server Error');
  });

  test("a network failure is a RegistryError naming the address", async () => {
    const f = fakeCtx({
      handler: () => {
        throw new TypeError("Unable to connect. Is the computer able to access the url?");
      },
    });
    const e = await rejection(consulFactory(parseRegistryUri("consul://10.9.9.9:1"), f.ctx).ping(), RegistryError);
    expect(e.message).toContain("Cannot reach consul at http://10.9.9.9:1");
    expect(e.status).toBeUndefined();
  });

  test("timeouts abort the request", async () => {
    const f = fakeCtx({
      handler: (r) => new Promise<Response>((_, reject) => r.signal?.addEventListener("abort", () => reject(r.signal?.reason))),
    });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx) as unknown as { client: ConsulClient };
    const client = new ConsulClient(a.client.settings, f.ctx, 50);
    // The handler only ever settles on abort: any rejection at all is the timeout's.
    const e = await rejection(client.request("GET", "/v1/status/leader", "Cannot reach consul"), RegistryError);
    expect(e.message).toBe("Cannot reach consul: no answer from http://127.0.0.1:8500 within 0.05s");
  });

  test("403: the error carries the ACL hint and never the token; reporting is left to the bridge", async () => {
    const f = fakeCtx({
      env: { CONSUL_HTTP_TOKEN: "sekret-token-1" },
      handler: () => new Response("Permission denied: token sekret-token-1 lacks service:write", { status: 403 }),
    });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    for (let i = 0; i < 3; i++) {
      const e = await rejection(a.register(service()), RegistryError);
      expect(e.status).toBe(403);
      expect(e.message).toContain("check CONSUL_HTTP_TOKEN / the token's service:write policy");
      expect(e.message).not.toContain("sekret-token-1");
    }
    expect(f.seen[0]!.headers["x-consul-token"]).toBe("sekret-token-1");
    // The bridge logs a failed write once per service and message; the adapter adds no second line.
    expect(f.log.lines.filter((l) => l.msg.includes("403") || l.msg.includes("ACL"))).toEqual([]);
  });

  test("CONSUL_HTTP_TOKEN_FILE is read once, trimmed, and wins", async () => {
    const f = fakeCtx({ env: { CONSUL_HTTP_TOKEN: "env-token", CONSUL_HTTP_TOKEN_FILE: "/tok" }, files: { "/tok": "  file-token\n" } });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.ping();
    await a.ping();
    expect(f.seen.map((r) => r.headers["x-consul-token"])).toEqual(["file-token", "file-token"]);
    expect(f.filesRead).toEqual(["/tok"]);
  });

  test("an unreadable token file is a ConfigError naming the variable", async () => {
    const f = fakeCtx({ env: { CONSUL_HTTP_TOKEN_FILE: "/missing" } });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await expect(a.ping()).rejects.toThrow(ConfigError);
    await expect(a.ping()).rejects.toThrow('Cannot read CONSUL_HTTP_TOKEN_FILE "/missing"');
    expect(f.seen).toHaveLength(0);
  });

  test("no token, no header", async () => {
    const f = fakeCtx();
    await consulFactory(parseRegistryUri("consul://"), f.ctx).ping();
    expect(f.seen[0]!.headers["x-consul-token"]).toBeUndefined();
    expect(f.seen[0]!.url).toBe("http://127.0.0.1:8500/v1/status/leader");
  });

  test("TLS settings go to runtime.fetchTls as PEM text", async () => {
    const f = fakeCtx({
      env: {
        CONSUL_CACERT: "/ca",
        CONSUL_CLIENT_CERT: "/crt",
        CONSUL_CLIENT_KEY: "/key",
        CONSUL_TLS_SERVER_NAME: "consul.internal",
      },
      files: { "/ca": "CA PEM", "/crt": "CERT PEM", "/key": "KEY PEM" },
    });
    const a = consulFactory(parseRegistryUri("consul-tls://localhost:8501"), f.ctx);
    await a.ping();
    await a.ping();
    expect(f.tlsOptions).toEqual([{ ca: "CA PEM", cert: "CERT PEM", key: "KEY PEM", serverName: "consul.internal" }]);
    expect(f.seen.map((r) => [r.via, r.url])).toEqual([
      ["tls", "https://localhost:8501/v1/status/leader"],
      ["tls", "https://localhost:8501/v1/status/leader"],
    ]);
  });

  test("CONSUL_HTTP_SSL_VERIFY=false skips verification; plain https uses the default fetch", async () => {
    const f = fakeCtx({ env: { CONSUL_HTTP_SSL_VERIFY: "false" } });
    await consulFactory(parseRegistryUri("consul-tls://h:1"), f.ctx).ping();
    expect(f.tlsOptions).toEqual([{ insecure: true }]);
    const g = fakeCtx();
    await consulFactory(parseRegistryUri("consul-tls://h:1"), g.ctx).ping();
    expect(g.seen[0]).toMatchObject({ via: "plain", url: "https://h:1/v1/status/leader" });
  });

  test("TLS variables do not apply to plain http", async () => {
    const f = fakeCtx({ env: { CONSUL_CACERT: "/ca" } });
    await consulFactory(parseRegistryUri("consul://h:1"), f.ctx).ping();
    expect(f.tlsOptions).toHaveLength(0);
    expect(f.filesRead).toHaveLength(0);
  });

  test("unix sockets use runtime.fetchUnix with http://localhost URLs", async () => {
    const f = fakeCtx();
    await consulFactory(parseRegistryUri("consul-unix:///run/consul.sock"), f.ctx).ping();
    expect(f.unixPaths).toEqual(["/run/consul.sock"]);
    expect(f.seen[0]).toMatchObject({ via: "unix", url: "http://localhost/v1/status/leader" });
  });

  test("CONSUL_HTTP_ADDR prefix and Enterprise namespace", async () => {
    const f = fakeCtx({ env: { CONSUL_HTTP_ADDR: "http://gw:80/consul", CONSUL_NAMESPACE: "team a" } });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.register(service());
    expect(f.seen[0]!.url).toBe("http://gw:80/consul/v1/agent/service/register?replace-existing-checks&ns=team+a");
  });

  test("deregister encodes the ID; 404 counts as done; '..' is refused", async () => {
    const f = fakeCtx({ handler: () => new Response('Unknown service ID "x"', { status: 404 }) });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.deregister({ id: "h:a/b:80", name: "n", ip: "", port: 1, protocol: "tcp" });
    expect(f.seen[0]).toMatchObject({ method: "PUT", url: "http://127.0.0.1:8500/v1/agent/service/deregister/h%3Aa%2Fb%3A80" });
    for (const id of ["", ".", ".."]) {
      await rejection(a.deregister({ id, name: "n", ip: "", port: 1, protocol: "tcp" }), RegistryError);
      await rejection(a.register(service({ id })), RegistryError);
    }
    expect(f.seen).toHaveLength(1);
    f.setHandler(() => new Response("boom", { status: 500 }));
    const e = await rejection(a.deregister(service()), RegistryError);
    expect(e.message).toBe('Cannot deregister "host1:web:80" from consul: 500 boom');
  });

  test("ping accepts an empty leader, refuses other statuses", async () => {
    const f = fakeCtx({ handler: () => new Response('""', { status: 200 }) });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.ping();
    f.setHandler(() => new Response("Service Unavailable", { status: 503 }));
    expect((await rejection(a.ping(), RegistryError)).message).toBe("Cannot reach consul at http://127.0.0.1:8500: 503 Service Unavailable");
  });
});

describe("consul refresh", () => {
  test("without -ttl it does nothing", async () => {
    const f = fakeCtx();
    await consulFactory(parseRegistryUri("consul://"), f.ctx).refresh([service()]);
    expect(f.seen).toHaveLength(0);
  });

  test("passes each heartbeat check", async () => {
    const f = fakeCtx({ ttl: 30 });
    await consulFactory(parseRegistryUri("consul://"), f.ctx).refresh([service(), service({ id: "host1:web:81" })]);
    expect(f.seen.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      "PUT http://127.0.0.1:8500/v1/agent/check/pass/registrator%3Ahost1%3Aweb%3A80",
      "PUT http://127.0.0.1:8500/v1/agent/check/pass/registrator%3Ahost1%3Aweb%3A81",
    ]);
  });

  test.each([
    [404, 'Unknown check ID "registrator:host1:web:80". Ensure that the check ID is passed, not the check name.'],
    [500, 'CheckID "registrator:host1:web:80" does not have associated TTL'],
  ])("%d re-registers the service", async (status, text) => {
    const f = fakeCtx({ ttl: 30 });
    let passes = 0;
    f.setHandler((r) =>
      r.url.includes("/check/pass/") && passes++ === 0 ? new Response(text, { status }) : new Response("", { status: 200 }),
    );
    await consulFactory(parseRegistryUri("consul://"), f.ctx).refresh([service()]);
    // Register again, then pass once more (the agent keeps an existing check's status).
    expect(f.seen.map((r) => r.url.replace("http://127.0.0.1:8500", ""))).toEqual([
      "/v1/agent/check/pass/registrator%3Ahost1%3Aweb%3A80",
      "/v1/agent/service/register?replace-existing-checks",
      "/v1/agent/check/pass/registrator%3Ahost1%3Aweb%3A80",
    ]);
    expect(JSON.parse(f.seen[1]!.body!).Checks.at(-1).CheckID).toBe("registrator:host1:web:80");
  });

  test("other failures are reported after trying every service", async () => {
    const f = fakeCtx({ ttl: 30, handler: () => new Response("rpc error", { status: 500 }) });
    const e = await rejection(consulFactory(parseRegistryUri("consul://"), f.ctx).refresh([service(), service({ id: "host1:web:81" }), service({ id: "host1:web:82" })]), RegistryError);
    expect(f.seen).toHaveLength(3);
    expect(e.message).toMatch(/^Cannot pass the TTL check of "host1:web:8\d" in consul: 500 rpc error \(and 2 more\)$/);
    expect(e.status).toBe(500);
  });
});

describe("consul list and fingerprint", () => {
  test("an in-sync agent yields equal fingerprints", async () => {
    const f = fakeCtx();
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    const s = service({ attrs: { zeta: "1", alpha: "2", "bad key": "3" } });
    await a.register(s);
    const sent = JSON.parse(f.seen[0]!.body!);
    // What the agent gives back: the same fields plus its own, Meta in another order.
    const agentView = {
      [sent.ID]: {
        ID: sent.ID,
        Service: sent.Name,
        Tags: sent.Tags,
        Meta: { zeta: "1", alpha: "2" },
        Port: sent.Port,
        Address: sent.Address,
        TaggedAddresses: { lan_ipv4: { Address: sent.Address, Port: sent.Port } },
        Weights: { Passing: 1, Warning: 1 },
        EnableTagOverride: sent.EnableTagOverride,
        Datacenter: "dc1",
      },
      "other:udp": { ID: "other:udp", Service: "dns", Tags: [], Meta: {}, Port: 53, Address: "10.0.0.3", EnableTagOverride: false },
    };
    f.setHandler(() => Response.json(agentView));
    const listed = await a.list!();
    expect(listed).toHaveLength(2);
    const mine = listed.find((l) => l.id === s.id)!;
    expect(mine).toMatchObject({ id: s.id, name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp" });
    expect(mine.fingerprint).toBe(a.fingerprint!(s));
    expect(listed.find((l) => l.id === "other:udp")!.protocol).toBe("udp");
  });

  test.each<[string, Partial<Service>]>([
    ["address", { ip: "10.0.0.9" }],
    ["port", { port: 9090 }],
    ["meta value", { attrs: { version: "2" } }],
    ["enableTagOverride", { enableTagOverride: false }],
    ["name", { name: "api" }],
  ])("a different %s changes the fingerprint", (_what, over) => {
    const a = consulFactory(parseRegistryUri("consul://"), fakeCtx().ctx);
    expect(a.fingerprint!(service(over))).not.toBe(a.fingerprint!(service()));
  });

  test.each<[string, Partial<Service>]>([
    ["tags", { tags: ["v2"] }],
    ["tag order", { tags: ["prod", "v1"] }],
  ])("without tag override, different %s change the fingerprint", (_what, over) => {
    const a = consulFactory(parseRegistryUri("consul://"), fakeCtx().ctx);
    expect(a.fingerprint!(service({ ...over, enableTagOverride: false }))).not.toBe(a.fingerprint!(service({ enableTagOverride: false })));
  });

  test("with tag override, tags an operator changed in the catalog are not a difference to write back", async () => {
    const f = fakeCtx();
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    const s = service({ enableTagOverride: true, attrs: {} });
    const agent = { ID: s.id, Service: s.name, Tags: ["canary", "set-by-operator"], Meta: {}, Port: s.port, Address: s.ip, EnableTagOverride: true };
    f.setHandler(() => Response.json({ [s.id]: agent }));
    expect((await a.list!())[0]!.fingerprint).toBe(a.fingerprint!(s));
    // Everything else still counts, and so does losing the override itself.
    f.setHandler(() => Response.json({ [s.id]: { ...agent, Port: 1 } }));
    expect((await a.list!())[0]!.fingerprint).not.toBe(a.fingerprint!(s));
    f.setHandler(() => Response.json({ [s.id]: { ...agent, EnableTagOverride: false } }));
    expect((await a.list!())[0]!.fingerprint).not.toBe(a.fingerprint!(s));
  });

  test("attrs dropped from Meta do not change the fingerprint", () => {
    const a = consulFactory(parseRegistryUri("consul://"), fakeCtx().ctx);
    expect(a.fingerprint!(service({ attrs: { version: "1", "x y": "z" } }))).toBe(a.fingerprint!(service({ attrs: { version: "1" } })));
  });

  test("list failures are RegistryErrors", async () => {
    const f = fakeCtx({ handler: () => new Response("not json", { status: 200 }) });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    expect((await rejection(a.list!(), RegistryError)).message).toContain("invalid JSON");
    f.setHandler(() => new Response("ACL not found", { status: 403 }));
    expect((await rejection(a.list!(), RegistryError)).message).toContain("check CONSUL_HTTP_TOKEN");
  });
});

describe("consul faults that must not loop silently (issue 11)", () => {
  const SCRIPTS_OFF = "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true";
  const scripted = (id: string) =>
    service({ id, checks: [{ kind: "script", args: ["/bin/sh", "-c", "true"], interval: "5s" }, { kind: "tcp", target: "10.0.0.2:8080" }] });

  test("-allow-script-checks against an agent without enable_script_checks: one hint, then registered without the script checks", async () => {
    const f = fakeCtx({
      allowScriptChecks: true,
      handler: (r) => (r.body?.includes('"Args"') ? new Response(SCRIPTS_OFF, { status: 500 }) : new Response("", { status: 200 })),
    });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    await a.register(scripted("host1:a:80"));
    await a.register(scripted("host1:b:80"));
    expect(f.seen.map((r) => JSON.parse(r.body!).Checks.length)).toEqual([2, 1, 1]);
    expect(JSON.parse(f.seen[2]!.body!).Checks).toEqual([{ TCP: "10.0.0.2:8080", Interval: "10s" }]);
    const hints = f.log.lines.filter((l) => l.msg.includes("enable_script_checks = true"));
    expect(hints).toHaveLength(1);
    expect(hints[0]!.level).toBe("warn");
  });

  test("CHECK_DEREGISTER_AFTER: writing an unchanged service again warns once, naming the setting", async () => {
    const f = fakeCtx();
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    const s = service({ checks: [{ kind: "http", target: "http://10.0.0.2:8080/", deregisterAfter: "1m" }] });
    await a.register(s);
    expect(f.log.lines.filter((l) => l.level === "warn" && l.msg.includes("CHECK_DEREGISTER_AFTER"))).toEqual([]);
    await a.register(s); // what -consul-sync does once the agent has reaped it
    await a.register(s);
    const warned = f.log.lines.filter((l) => l.level === "warn" && l.msg.includes("CHECK_DEREGISTER_AFTER"));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain('"1m"');
    // A changed service written again, or one without the setting, is not that case.
    const plain = service({ id: "host1:plain:80" });
    await a.register(plain);
    await a.register(plain);
    await a.register(service({ id: "host1:plain:80", port: 1 }));
    expect(f.log.lines.filter((l) => l.msg.includes("CHECK_DEREGISTER_AFTER"))).toHaveLength(1);
  });

  test("readiness ping with CONSUL_NAMESPACE also reads in the namespace, and fails when the agent refuses it", async () => {
    const refused = 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature';
    const f = fakeCtx({
      env: { CONSUL_NAMESPACE: "team", CONSUL_PARTITION: "p1" },
      handler: (r) => (r.url.includes("/v1/agent/services") ? new Response(refused, { status: 400 }) : Response.json("127.0.0.1:8300")),
    });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    const e = await rejection(a.ping(), RegistryError);
    expect(e.message).toBe(`Cannot use CONSUL_NAMESPACE "team" and CONSUL_PARTITION "p1" at http://127.0.0.1:8500: 400 ${refused}`);
    expect(f.seen.map((r) => r.url)).toEqual([
      "http://127.0.0.1:8500/v1/status/leader?ns=team&partition=p1",
      "http://127.0.0.1:8500/v1/agent/services?ns=team&partition=p1",
    ]);
    f.setHandler(() => Response.json({}));
    await a.ping();
    // Without either setting the ping stays one cheap request.
    const g = fakeCtx({ handler: () => Response.json("127.0.0.1:8300") });
    await consulFactory(parseRegistryUri("consul://"), g.ctx).ping();
    expect(g.seen).toHaveLength(1);
  });

  test("Basic auth: the pair, the password alone and an echoed header value never reach a message", async () => {
    const header = `Basic ${btoa("ops:hunter22")}`;
    const f = fakeCtx({ env: { CONSUL_HTTP_AUTH: "ops:hunter22" }, handler: () => new Response(`denied hunter22 for ops:hunter22 (${header})`, { status: 403 }) });
    const e = await rejection(consulFactory(parseRegistryUri("consul://"), f.ctx).register(service()), RegistryError);
    expect(e.message).not.toContain("hunter22");
    expect(e.message).not.toContain(btoa("ops:hunter22"));
    expect(e.message).toContain("[redacted]");
  });
});

describe("durations the agent would answer 400 to never reach it (Go's limits)", () => {
  test("CHECK_DEREGISTER_AFTER=9999999999h: the heartbeat is sent without it, with one warning; the service registers", async () => {
    const f = fakeCtx({ ttl: 30 });
    const a = consulFactory(parseRegistryUri("consul://"), f.ctx);
    const s = service({ attrs: { check_deregister_after: "9999999999h" }, checks: [{ kind: "tcp", target: "10.0.0.2:8080", deregisterAfter: "2562048h" }] });
    await a.register(s);
    await a.register(s);
    const body = JSON.parse(f.seen[0]!.body!);
    expect(body.Checks).toHaveLength(1);
    expect(body.Checks[0].CheckID).toBe("registrator:host1:web:80");
    expect(body.Checks[0].DeregisterCriticalServiceAfter).toBeUndefined();
    const warned = f.log.lines.filter((l) => l.level === "warn" && /9999999999h|2562048h/.test(l.msg));
    expect(warned).toHaveLength(2);
  });

  test("the largest duration Go accepts is sent as it is", async () => {
    const f = fakeCtx({ ttl: 30 });
    await consulFactory(parseRegistryUri("consul://"), f.ctx).register(service({ attrs: { check_deregister_after: "2562047h" }, checks: [] }));
    expect(JSON.parse(f.seen[0]!.body!).Checks[0].DeregisterCriticalServiceAfter).toBe("2562047h");
  });
});
