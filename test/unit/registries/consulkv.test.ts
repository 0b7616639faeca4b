import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { describe, expect, test } from "bun:test";
import { RegistryError } from "../../../src/errors.ts";
import type { Runtime } from "../../../src/runtime/types.ts";
import { consulKvFactory, kvValue, segmentProblem } from "../../../src/registries/consulkv.ts";
import { type ServiceOverrides, adapterContext, refusedBothWays, rejection, testService } from "../../support/fixtures.ts";

interface Seen {
  method: string;
  url: string;
  body?: string;
  token?: string;
}

function fakeCtx(env: Record<string, string> = {}) {
  const seen: Seen[] = [];
  let handler: (r: Seen) => Response = () => new Response("true", { status: 200 });
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const h = new Headers(init?.headers);
    const r: Seen = { method: init?.method ?? "GET", url: String(input), ...(typeof init?.body === "string" ? { body: init.body } : {}) };
    const tok = h.get("x-consul-token");
    if (tok) r.token = tok;
    seen.push(r);
    return handler(r);
  }) as typeof fetch;
  const unixPaths: string[] = [];
  const runtime = { fetchUnix: (p: string) => (unixPaths.push(p), f) } as unknown as Runtime;
  const { ctx, log } = adapterContext({ env, fetch: f, runtime });
  return { ctx, seen, unixPaths, log, setHandler: (h: (r: Seen) => Response) => void (handler = h) };
}

const service = (over: ServiceOverrides = {}) => testService({ id: "host1:web:80", ...over });

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("consulkv adapter", () => {
  test("register puts ip:port at <prefix>/<name>/<id>, segments encoded", async () => {
    const f = fakeCtx();
    const a = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/services/prod"), f.ctx);
    await a.register(service());
    expect(f.seen[0]).toEqual({
      method: "PUT",
      url: "http://127.0.0.1:8500/v1/kv/services/prod/web/host1%3Aweb%3A80",
      body: "10.0.0.2:8080",
    });
    await a.register(service({ ip: "2001:db8::1", name: "a b?" }));
    expect(f.seen[1]).toEqual({
      method: "PUT",
      url: "http://127.0.0.1:8500/v1/kv/services/prod/a%20b%3F/host1%3Aweb%3A80",
      body: "[2001:db8::1]:8080",
    });
  });

  test("deregister deletes the key; 404 counts as done", async () => {
    const f = fakeCtx();
    const a = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/services"), f.ctx);
    f.setHandler(() => new Response("", { status: 404 }));
    await a.deregister(service());
    expect(f.seen[0]).toEqual({ method: "DELETE", url: "http://127.0.0.1:8500/v1/kv/services/web/host1%3Aweb%3A80" });
    f.setHandler(() => new Response("Permission denied", { status: 403 }));
    const e = await rejection(a.deregister(service()), RegistryError);
    expect(e.message).toBe(
      `Cannot deregister "host1:web:80" from consulkv: 403 Permission denied (check CONSUL_HTTP_TOKEN / the token's service:write policy)`,
    );
  });

  test.each([
    ["name", { name: "../../etc" }, 'contains "/"'],
    ["name", { name: ".." }, 'is ".."'],
    ["name", { name: "" }, "is empty"],
    ["ID", { id: "a/b" }, 'contains "/"'],
    ["ID", { id: "." }, 'is "."'],
    ["ID", { id: "x\ny" }, "contains control characters"],
    ["ID", { id: "x\u007fy" }, "contains control characters"],
  ])("an unsafe %s is refused before any request: %p", async (what, over, why) => {
    const f = fakeCtx();
    const a = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/services"), f.ctx);
    const e = await refusedBothWays(a, service(over));
    expect(e.message).toContain(`the service ${what} ${why}`);
    expect(e.message).not.toMatch(/[\u0000-\u001f]/);
    expect(f.seen).toHaveLength(0);
  });

  test("list reads the prefix recursively; fingerprint equals the value", async () => {
    const f = fakeCtx();
    const a = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/services"), f.ctx);
    f.setHandler(() =>
      Response.json([
        { Key: "services/web/host1:web:80", Value: b64("10.0.0.2:8080"), Flags: 0 },
        { Key: "services/dns/host1:dns:53:udp", Value: b64("[2001:db8::1]:53"), Flags: 0 },
        { Key: "services/too/deep/x", Value: b64("1.2.3.4:1") },
        { Key: "services/empty/x", Value: null },
        { Key: "elsewhere/web/x", Value: b64("1.2.3.4:1") },
      ]),
    );
    const listed = await a.list!();
    expect(f.seen[0]).toEqual({ method: "GET", url: "http://127.0.0.1:8500/v1/kv/services/?recurse" });
    expect(listed).toEqual([
      { id: "host1:web:80", name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp", fingerprint: "10.0.0.2:8080" },
      { id: "host1:dns:53:udp", name: "dns", ip: "2001:db8::1", port: 53, protocol: "udp", fingerprint: "[2001:db8::1]:53" },
      { id: "x", name: "empty", ip: "", port: 0, protocol: "tcp", fingerprint: "" },
    ]);
    expect(a.fingerprint!(service())).toBe(listed[0]!.fingerprint);
    expect(a.fingerprint!(service({ ip: "2001:db8::1", port: 53 }))).toBe(listed[1]!.fingerprint);
    expect(a.fingerprint!(service({ port: 8081 }))).not.toBe(listed[0]!.fingerprint);
  });

  test("a missing prefix lists as empty", async () => {
    const f = fakeCtx();
    f.setHandler(() => new Response("", { status: 404 }));
    expect(await consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/services"), f.ctx).list!()).toEqual([]);
  });

  test("consulkv-unix uses the socket; the token is sent", async () => {
    const f = fakeCtx({ CONSUL_HTTP_TOKEN: "kv-token" });
    const a = consulKvFactory(parseRegistryUri("consulkv-unix:///run/consul.sock:/reg"), f.ctx);
    await a.register(service());
    expect(f.unixPaths).toEqual(["/run/consul.sock"]);
    expect(f.seen[0]).toMatchObject({ url: "http://localhost/v1/kv/reg/web/host1%3Aweb%3A80", token: "kv-token" });
  });

  test("refresh writes nothing", async () => {
    const f = fakeCtx();
    await consulKvFactory(parseRegistryUri("consulkv://h:1/p"), f.ctx).refresh([service()]);
    expect(f.seen).toHaveLength(0);
  });

  test("helpers", () => {
    expect(kvValue("1.2.3.4", 5)).toBe("1.2.3.4:5");
    expect(kvValue("::1", 5)).toBe("[::1]:5");
    expect(segmentProblem("ok:1")).toBeUndefined();
  });
});
