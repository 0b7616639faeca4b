// etcd adapter without a server: URI and ETCDCTL_* validation, key layout, and the transport's
// failover / auth / encoding rules against a scripted fetch.
import { describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { RegistryError } from "../../../src/errors.ts";
import { joinHostPort, splitHostPort } from "../../../src/hostport.ts";
import { etcdSettings } from "../../../src/registries/etcd-client.ts";
import { etcdFactory, etcdLayout } from "../../../src/registries/etcd.ts";
import { prefixRangeEnd } from "../../../src/registries/etcd3.ts";
import { parseRegistryUri, safeSegment } from "../../../src/registries/uri.ts";
import type { Runtime } from "../../../src/runtime/types.ts";
import { type ServiceOverrides, adapterContext, configError, testService } from "../../support/fixtures.ts";

const service = (over: ServiceOverrides = {}) => testService({ id: "host1:web1:80", ...over });

interface Call {
  url: string;
  body: string;
  auth: string | null;
}

/** A context whose fetch runs `handler`; `handler` may throw to simulate a refused connection. */
function fakeCtx(handler: (c: Call) => Response | Promise<Response>, env: Record<string, string> = {}, ttl = 0) {
  const calls: Call[] = [];
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const c: Call = { url: String(input), body: String(init?.body ?? ""), auth: new Headers(init?.headers).get("authorization") };
    calls.push(c);
    return handler(c);
  }) as typeof fetch;
  const runtime = {
    fetchTls: () => f,
    readTextFile: async (p: string) => `PEM of ${p}`,
  } as unknown as Runtime;
  const { ctx, log } = adapterContext({ env, ttl, fetch: f, runtime });
  return { ctx, calls, log };
}

const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });
const refused = () => {
  throw Object.assign(new TypeError("Unable to connect. Is the computer able to access the url?"), { code: "ConnectionRefused" });
};
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
const FORM = /expected etcd:\/\/host:port\[,host:port…\]\/prefix or etcd\+https:\/\/…\/prefix/;

describe("etcd URI", () => {
  const settings = (uri: string, env: Record<string, string> = {}) =>
    etcdSettings(parseRegistryUri(uri), (n) => env[n], { scheme: "etcd", form: "etcd://…" });

  test.each([
    ["etcd://", [["127.0.0.1", 2379]], "", "v3", false],
    ["etcd:///services", [["127.0.0.1", 2379]], "/services", "v3", false],
    ["etcd://10.0.0.1:4001/services", [["10.0.0.1", 4001]], "/services", "v3", false],
    ["etcd://etcd.local/a/b/", [["etcd.local", 2379]], "/a/b", "v3", false],
    ["etcd://h1:1,h2:2, h3:3/p", [["h1", 1], ["h2", 2], ["h3", 3]], "/p", "v3", false],
    ["etcd://[::1]:2379,[fd00::1]/p", [["::1", 2379], ["fd00::1", 2379]], "/p", "v3", false],
    ["etcd://h//double//slash", [["h", 2379]], "/double/slash", "v3", false],
    ["etcd://h/my%20prefix", [["h", 2379]], "/my prefix", "v3", false],
    ["etcd://h/p?api=v2", [["h", 2379]], "/p", "v2", false],
    ["etcd://h/p?api=v3", [["h", 2379]], "/p", "v3", false],
    ["etcd+https://h:2379/p", [["h", 2379]], "/p", "v3", true],
    ["ETCD://h/p", [["h", 2379]], "/p", "v3", false],
  ] as const)("%s", (uri, hosts, path, api, https) => {
    const s = settings(uri);
    expect(s.endpoints.map((e) => [e.host, e.port])).toEqual(hosts.map((h) => [...h]));
    expect(s.path).toBe(path);
    expect(s.api).toBe(api);
    expect(s.https).toBe(https);
  });

  test.each([
    ["http://127.0.0.1:2379/p", /scheme must be etcd:\/\//],
    ["consul://h/p", /scheme must be/],
    ["etcd:/h/p", /not a URI/],
    ["etcd://h:0/p", /port "0" must be a number from 1 to 65535/],
    ["etcd://h:65536/p", /port "65536"/],
    ["etcd://h:abc/p", /port "abc"/],
    ["etcd://h:/p", /port ""/],
    ["etcd://a:1,,b:2/p", /"" is not a host/],
    ["etcd://bad_host!/p", /"bad_host!" is not a host/],
    ["etcd://[zz::1]:1/p", /is not a host/],
    ["etcd://::1:2379/p", /is not a host/],
    ["etcd://h/p?api=v4", /api must be v2 or v3, not "v4"/],
    ["etcd://h/p?timeout=5", /unknown option "timeout" \(valid: api\)/],
    ["etcd://h/../etc", /must not contain "\." or "\.\." segments/],
    ["etcd://h/a/%2e%2e/b", /must not contain/],
    ["etcd://h/p%zz", /malformed %-escape/],
    ["etcd://h/p%0a", /control character/],
    ["etcd://h/p#frag", /fragment/],
  ])("%s is a ConfigError", (uri, re) => {
    const e = configError(() => settings(uri));
    expect(e.message).toMatch(re);
    if (!/api must be/.test(e.message)) expect(e.message).toContain(`"${uri}"`);
  });

  test("credentials in the URI are refused without echoing the password", () => {
    const e = configError(() => settings("etcd://root:hunter2@h:2379/p"));
    expect(e.message).toContain("credentials do not belong in the URI");
    expect(e.message).not.toContain("hunter2");
    expect(e.message).toContain("root:[redacted]@");
  });

  test("the factory validates synchronously, names the valid form, and makes no request", () => {
    const { ctx, calls } = fakeCtx(() => json({}));
    const e = configError(() => etcdFactory(parseRegistryUri("etcd://h:99999/p"), ctx));
    expect(e.message).toMatch(FORM);
    expect(etcdFactory(parseRegistryUri("etcd://h:1/p"), ctx).backend).toBe("etcd");
    expect(calls).toEqual([]);
  });

  test("ETCDCTL_*: TLS switches, certificate pairs, user and password", () => {
    expect(settings("etcd://h/p", { ETCDCTL_CACERT: "/ca.pem" }).https).toBe(true);
    expect(settings("etcd+http://h/p", { ETCDCTL_CACERT: "/ca.pem" }).https).toBe(false);
    expect(settings("etcd://h/p", { ETCDCTL_CACERT: "  " }).https).toBe(false);
    expect(settings("etcd+https://h/p", { ETCDCTL_INSECURE_SKIP_TLS_VERIFY: "true" }).insecure).toBe(true);
    expect(configError(() => settings("etcd://h/p", { ETCDCTL_CERT: "/c.pem" })).message).toContain("ETCDCTL_CERT and ETCDCTL_KEY");
    expect(configError(() => settings("etcd://h/p", { ETCDCTL_KEY: "/k.pem" })).message).toContain("ETCDCTL_CERT and ETCDCTL_KEY");
    expect(settings("etcd://h/p", { ETCDCTL_USER: "root:pa:ss" })).toMatchObject({ user: "root", password: "pa:ss" });
    expect(settings("etcd://h/p", { ETCDCTL_USER: "root", ETCDCTL_PASSWORD: "pw" })).toMatchObject({ user: "root", password: "pw" });
    expect(configError(() => settings("etcd://h/p", { ETCDCTL_USER: "root" })).message).toContain("ETCDCTL_USER");
    const e = configError(() => settings("etcd://h/p", { ETCDCTL_USER: ":secretpw" }));
    expect(e.message).not.toContain("secretpw");
  });
});

describe("etcd layout", () => {
  const layout = etcdLayout("/services");

  test("key and value, IPv6 bracketed", () => {
    expect(layout.key(service())).toBe("/services/web/host1:web1:80");
    expect(layout.value(service())).toBe("10.0.0.2:8080");
    expect(layout.value(service({ ip: "fd00::1", port: 53 }))).toBe("[fd00::1]:53");
  });

  test("parse inverts key and value; :udp IDs are udp; other shapes are not ours", () => {
    expect(layout.parse({ key: "/services/dns/h:dns:53:udp", value: "[fd00::1]:53" })).toEqual({
      id: "h:dns:53:udp",
      name: "dns",
      ip: "fd00::1",
      port: 53,
      protocol: "udp",
      fingerprint: "[fd00::1]:53",
    });
    expect(layout.parse({ key: "/services/web", value: "1.2.3.4:1" })).toBeUndefined();
    expect(layout.parse({ key: "/services/web/a/b", value: "1.2.3.4:1" })).toBeUndefined();
    expect(layout.parse({ key: "/services//id", value: "1.2.3.4:1" })).toBeUndefined();
    expect(layout.parse({ key: "/other/web/id", value: "1.2.3.4:1" })).toBeUndefined();
  });

  test.each([
    ["", "service name"],
    [".", "service name"],
    ["..", "service name"],
    ["a/b", "service name"],
    ["x\u0000", "service name"],
    ["x\u001b[31m", "service name"],
    ["x\u0085", "service name"],
  ])("unsafe name %j is refused", (name, what) => {
    expect(() => layout.key(service({ name }))).toThrow(RegistryError);
    expect(() => layout.key(service({ name }))).toThrow(`Refusing ${what}`);
    expect(() => layout.key(service({ id: name }))).toThrow("Refusing service ID");
  });

  test("safe oddities stay: dots inside, spaces, colons, unicode", () => {
    for (const s of ["...", "a..b", "a b", "h:c:80:udp", "wëb"]) expect(safeSegment(s, "x", "etcd")).toBe(s);
  });

  test("host:port helpers", () => {
    expect(joinHostPort("::1", 80)).toBe("[::1]:80");
    expect(splitHostPort("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(splitHostPort("1.2.3.4:65535")).toEqual({ host: "1.2.3.4", port: 65535 });
    for (const bad of ["1.2.3.4", "1.2.3.4:0", "1.2.3.4:70000", "::1:80", "[::1]", ""]) expect(splitHostPort(bad)).toBeUndefined();
  });

  test("prefixRangeEnd increments the last byte", () => {
    expect(unb64(prefixRangeEnd("/skydns/"))).toBe("/skydns0");
    expect(unb64(prefixRangeEnd("/a"))).toBe("/b");
    expect(prefixRangeEnd("")).toBe("AA==");
    expect([...Buffer.from(prefixRangeEnd("a\u00ff"), "base64")]).toEqual([0x61, 0xc3, 0xc0]);
  });
});

describe("etcd transport (scripted fetch)", () => {
  test("v3 put: base64 key and value, JSON POST to /v3/kv/put", async () => {
    const { ctx, calls } = fakeCtx(() => json({ header: {} }));
    await etcdFactory(parseRegistryUri("etcd://h:1/services"), ctx).register(service());
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("http://h:1/v3/kv/put");
    const body = JSON.parse(calls[0]?.body ?? "{}");
    expect(unb64(body.key)).toBe("/services/web/host1:web1:80");
    expect(unb64(body.value)).toBe("10.0.0.2:8080");
    expect(body.lease).toBeUndefined();
  });

  test("lease IDs beyond 2^53 stay exact strings; refresh is one keepalive", async () => {
    const ID = "7587862073198512345";
    const { ctx, calls } = fakeCtx((c) => {
      if (c.url.endsWith("/lease/grant")) return json({ ID, TTL: "30" });
      if (c.url.endsWith("/lease/keepalive")) return json({ result: { ID, TTL: "30" } });
      return json({ header: {} });
    }, {}, 30);
    const a = etcdFactory(parseRegistryUri("etcd://h:1/services"), ctx);
    await a.register(service());
    await a.register(service({ id: "host1:web2:80" }));
    expect(calls.map((c) => c.url.replace("http://h:1", ""))).toEqual(["/v3/lease/grant", "/v3/kv/put", "/v3/kv/put"]);
    expect(JSON.parse(calls[0]?.body ?? "").TTL).toBe(30);
    expect(calls[1]?.body).toContain(`"lease":"${ID}"`);
    calls.length = 0;
    await a.refresh([service(), service({ id: "host1:web2:80" })]);
    expect(calls.map((c) => c.url.replace("http://h:1", ""))).toEqual(["/v3/lease/keepalive"]);
    expect(calls[0]?.body).toBe(`{"ID":"${ID}"}`);
  });

  test("keepalive without TTL: a new lease, and every refreshed service is put again on it", async () => {
    let n = 0;
    const { ctx, calls, log } = fakeCtx((c) => {
      if (c.url.endsWith("/lease/grant")) return json({ ID: `${++n}000000000000000001`, TTL: "30" });
      if (c.url.endsWith("/lease/keepalive")) return json({ result: { ID: "x" } });
      return json({ header: {} });
    }, {}, 30);
    const a = etcdFactory(parseRegistryUri("etcd://h:1/s"), ctx);
    await a.register(service());
    calls.length = 0;
    await a.refresh([service(), service({ id: "host1:web2:80" })]);
    expect(calls.map((c) => c.url.replace("http://h:1", ""))).toEqual([
      "/v3/lease/keepalive",
      "/v3/lease/grant",
      "/v3/kv/put",
      "/v3/kv/put",
    ]);
    const puts = calls.filter((c) => c.url.endsWith("/kv/put")).map((c) => JSON.parse(c.body));
    expect(puts.map((p) => unb64(p.key)).sort()).toEqual(["/s/web/host1:web1:80", "/s/web/host1:web2:80"]);
    expect(puts.every((p) => p.lease === "2000000000000000001")).toBe(true);
    expect(log.lines.some((l) => l.level === "warn" && l.msg.includes("lease 1000000000000000001 lost"))).toBe(true);
  });

  test("failover: a refused endpoint is skipped and the working one is tried first afterwards", async () => {
    const { ctx, calls, log } = fakeCtx((c) => (c.url.startsWith("http://a:1") ? refused() : json({ header: {} })));
    const a = etcdFactory(parseRegistryUri("etcd://a:1,b:2/s"), ctx);
    await a.register(service());
    await a.register(service());
    expect(calls.map((c) => new URL(c.url).host)).toEqual(["a:1", "b:2", "b:2"]);
    expect(log.lines.filter((l) => l.msg === "etcd: using endpoint http://b:2")).toHaveLength(1);
  });

  test("failover on 503 (no leader); every endpoint down → one RegistryError listing them", async () => {
    const { ctx, calls } = fakeCtx((c) =>
      c.url.startsWith("http://a:1") ? json({ error: "etcdserver: no leader", message: "etcdserver: no leader", code: 14 }, 503) : json({ header: {} }),
    );
    await etcdFactory(parseRegistryUri("etcd://a:1,b:2/s"), ctx).register(service());
    expect(calls.map((c) => new URL(c.url).host)).toEqual(["a:1", "b:2"]);

    const { ctx: down } = fakeCtx(refused);
    const p = etcdFactory(parseRegistryUri("etcd://a:1,b:2/s"), down).register(service());
    await expect(p).rejects.toBeInstanceOf(RegistryError);
    await expect(p).rejects.toThrow(/Cannot register "host1:web1:80" in etcd: cannot reach etcd \(http:\/\/a:1: .*; http:\/\/b:2: .*\)/);
  });

  test("auth: raw token (no Bearer) on every call; 401 → one re-authentication and a retry", async () => {
    let tokens = 0;
    let reject = false;
    const { ctx, calls } = fakeCtx((c) => {
      if (c.url.endsWith("/auth/authenticate")) return json({ token: `tok${++tokens}` });
      if (reject && c.auth === "tok1") return json({ error: "etcdserver: invalid auth token", message: "etcdserver: invalid auth token", code: 16 }, 401);
      return json({ header: {} });
    }, { ETCDCTL_USER: "root:pw" });
    const a = etcdFactory(parseRegistryUri("etcd://h:1/s"), ctx);
    await a.ping();
    await a.register(service());
    expect(calls.map((c) => [c.url.replace("http://h:1", ""), c.auth])).toEqual([
      ["/v3/auth/authenticate", null],
      ["/v3/kv/range", "tok1"],
      ["/v3/kv/put", "tok1"],
    ]);
    expect(JSON.parse(calls[0]?.body ?? "")).toEqual({ name: "root", password: "pw" });
    reject = true;
    calls.length = 0;
    await a.register(service());
    expect(calls.map((c) => [c.url.replace("http://h:1", ""), c.auth])).toEqual([
      ["/v3/kv/put", "tok1"],
      ["/v3/auth/authenticate", null],
      ["/v3/kv/put", "tok2"],
    ]);
  });

  test("auth not enabled on the cluster: carry on without a token", async () => {
    const { ctx, calls } = fakeCtx((c) =>
      c.url.endsWith("/auth/authenticate")
        ? json({ error: "etcdserver: authentication is not enabled", message: "etcdserver: authentication is not enabled", code: 9 }, 412)
        : json({ header: {} }),
    { ETCDCTL_USER: "root:pw" });
    const a = etcdFactory(parseRegistryUri("etcd://h:1/s"), ctx);
    await a.ping();
    expect(calls.map((c) => c.auth)).toEqual([null, null]);
  });

  test("TLS material is read through the runtime and passed to fetchTls", async () => {
    const seen: unknown[] = [];
    const { ctx } = fakeCtx(() => json({ header: {} }), { ETCDCTL_CACERT: "/ca.pem", ETCDCTL_CERT: "/c.pem", ETCDCTL_KEY: "/k.pem" });
    const inner = ctx.runtime.fetchTls({});
    (ctx.runtime as { fetchTls: unknown }).fetchTls = (o: unknown) => (seen.push(o), inner);
    await etcdFactory(parseRegistryUri("etcd://h:1/s"), ctx).ping();
    expect(seen).toEqual([{ ca: "PEM of /ca.pem", cert: "PEM of /c.pem", key: "PEM of /k.pem", insecure: false }]);
  });

  test("v2: form PUT with ttl, refresh without value, 404 delete is done", async () => {
    const { ctx, calls } = fakeCtx((c) => {
      if (c.url.includes("refresh") || c.body.includes("refresh")) return json({ action: "update" });
      if (c.url.includes("gone")) return json({ errorCode: 100, message: "Key not found" }, 404);
      return json({ action: "set" }, 201);
    }, {}, 30);
    const a = etcdFactory(parseRegistryUri("etcd://h:1/s?api=v2"), ctx);
    await a.register(service({ id: "a b:c" }));
    expect(calls[0]?.url).toBe("http://h:1/v2/keys/s/web/a%20b%3Ac");
    expect(calls[0]?.body).toBe("value=10.0.0.2%3A8080&ttl=30");
    await a.refresh([service()]);
    expect(calls[1]?.body).toBe("ttl=30&refresh=true&prevExist=true");
    await a.deregister(service({ id: "gone" }));
  });
});
