// consulkv adapter against the agent emulator: `<prefix>/<name>/<id>` = `ip:port`, list, deregister,
// unsafe names refused before any write, ACL token, unix socket.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RegistryError } from "../../src/errors.ts";
import { consulKvFactory } from "../../src/registries/consulkv.ts";
import type { Service } from "../../src/types.ts";
import { type ConsulEmulator, startConsulEmulator } from "../support/consul/index.ts";
import { type ServiceOverrides, adapterContext, refusedBothWays, rejection, testService } from "../support/fixtures.ts";
import { tempDir } from "../support/proc.ts";

const context = (env: Record<string, string> = {}) => adapterContext({ env }).ctx;
const svc = (over: ServiceOverrides = {}) => testService({ id: "host1:web:80", ...over });

describe("consulkv", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator();
  });
  afterAll(async () => {
    await emu?.stop();
  });
  const adapter = (prefix: string) => consulKvFactory(parseRegistryUri(`consulkv://127.0.0.1:${emu.port}${prefix}`), context());

  test("register writes <prefix>/<name>/<id> = ip:port ([v6]:port); list; deregister is idempotent", async () => {
    const a = adapter("/services/prod");
    await a.ping();
    const web = svc();
    const dns = svc({ id: "host1:dns:53:udp", name: "dns", protocol: "udp", port: 53 });
    const v6 = svc({ id: "host1:v6:80", name: "v6", ip: "fd00::12", port: 80 });
    for (const s of [web, dns, v6]) await a.register(s);
    expect(emu.kv()).toMatchObject({
      "services/prod/web/host1:web:80": "10.0.0.2:8080",
      "services/prod/dns/host1:dns:53:udp": "10.0.0.2:53",
      "services/prod/v6/host1:v6:80": "[fd00::12]:80",
    });
    const listed = await a.list!();
    expect(listed.map((l) => l.id).sort()).toEqual(["host1:dns:53:udp", "host1:v6:80", "host1:web:80"]);
    for (const s of [web, dns, v6]) {
      const l = listed.find((x) => x.id === s.id)!;
      expect(l).toMatchObject({ name: s.name, ip: s.ip, port: s.port, protocol: s.protocol });
      expect(l.fingerprint).toBe(a.fingerprint!(s));
    }
    await a.deregister(web);
    expect(emu.kv()["services/prod/web/host1:web:80"]).toBeUndefined();
    await a.deregister(web);
    expect((await a.list!()).map((l) => l.id).sort()).toEqual(["host1:dns:53:udp", "host1:v6:80"]);
  });

  test("a changed value changes the fingerprint", async () => {
    const a = adapter("/fp");
    const s = svc();
    await a.register(s);
    await a.register({ ...s, port: 9999 });
    expect((await a.list!())[0]?.fingerprint).not.toBe(a.fingerprint!(s));
  });

  test("an empty or missing prefix lists nothing", async () => {
    expect(await adapter("/never-written").list!()).toEqual([]);
  });

  test("list does not reach past the prefix (a sibling prefix is not ours)", async () => {
    await adapter("/svc").register(svc({ id: "host1:a:80" }));
    await adapter("/svc-other").register(svc({ id: "host1:b:80" }));
    expect((await adapter("/svc").list!()).map((l) => l.id)).toEqual(["host1:a:80"]);
  });

  test.each<[string, Partial<Service>]>([
    ["a name with /..", { name: "../../etc" }],
    ["a name ..", { name: ".." }],
    ["an ID with /", { id: "x/../../y" }],
    ["an empty ID", { id: "" }],
    ["an ID with a newline", { id: "a\nb" }],
  ])("%s is refused and nothing is written", async (_what, over) => {
    const before = JSON.stringify(emu.kv());
    emu.clearLog();
    const a = adapter("/safe");
    await refusedBothWays(a, svc(over));
    expect(emu.requests).toHaveLength(0);
    expect(JSON.stringify(emu.kv())).toBe(before);
  });

  test("a name with URL-special characters stays one segment", async () => {
    const a = adapter("/special");
    const s = svc({ name: "a b?c#d%e", id: "host1:x y:80" });
    await a.register(s);
    expect(emu.kv()["special/a b?c#d%e/host1:x y:80"]).toBe("10.0.0.2:8080");
    expect((await a.list!()).map((l) => [l.name, l.id])).toEqual([["a b?c#d%e", "host1:x y:80"]]);
    await a.deregister(s);
    expect(emu.kv()["special/a b?c#d%e/host1:x y:80"]).toBeUndefined();
  });

  test("errors carry status and body", async () => {
    emu.fail({ status: 500, paths: /^\/v1\/kv\// });
    try {
      const e = await rejection(adapter("/err").register(svc()), RegistryError);
      expect(e.message).toBe('Cannot register "host1:web:80" in consulkv: 500 rpc error making call: No cluster leader');
      expect(e.status).toBe(500);
    } finally {
      emu.fail(null);
    }
  });
});

describe("consulkv against an agent that validates KV keys", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator({ kvKeyValidation: true });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("IDs without colons are written; the agent's refusal of a colon is passed on", async () => {
    const a = consulKvFactory(parseRegistryUri(`consulkv://127.0.0.1:${emu.port}/services`), context());
    await a.register(svc({ id: "web-1_80" }));
    expect(emu.kv()).toEqual({ "services/web/web-1_80": "10.0.0.2:8080" });
    const e = await rejection(a.register(svc()), RegistryError);
    expect(e.status).toBe(400);
    expect(e.message).toBe(
      'Cannot register "host1:web:80" in consulkv: 400 key contains invalid characters. Only alphanumeric characters and ,-_./ are allowed',
    );
  });
});

describe("consulkv with ACLs", () => {
  let emu: ConsulEmulator;
  const TOKEN = "kv-t0ken-0000-4000-8000-000000000002";
  beforeAll(async () => {
    emu = await startConsulEmulator({ token: TOKEN });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("the right token writes; a wrong one gets the ACL hint without the token", async () => {
    const ok = consulKvFactory(parseRegistryUri(`consulkv://127.0.0.1:${emu.port}/services`), context({ CONSUL_HTTP_TOKEN: TOKEN }));
    await ok.register(svc());
    expect(emu.kv()["services/web/host1:web:80"]).toBe("10.0.0.2:8080");
    expect((await ok.list!()).map((l) => l.id)).toEqual(["host1:web:80"]);

    const wrong = "bad-kv-token-xyz";
    const ctx = context({ CONSUL_HTTP_TOKEN: wrong });
    const bad = consulKvFactory(parseRegistryUri(`consulkv://127.0.0.1:${emu.port}/services`), ctx);
    const e = await rejection(bad.register(svc({ id: "host1:other:80" })), RegistryError);
    expect(e.status).toBe(403);
    expect(e.message).toContain("check CONSUL_HTTP_TOKEN / the token's service:write policy");
    expect(e.message).not.toContain(wrong);
    expect(emu.kv()["services/web/host1:other:80"]).toBeUndefined();
  });
});

describe("consulkv-unix", () => {
  let emu: ConsulEmulator;
  let sock: string;
  beforeAll(async () => {
    sock = join(tempDir("consulkv-sock-"), "consul.sock");
    emu = await startConsulEmulator({ unixSocket: sock });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("consulkv-unix:///path:/prefix registers, lists and deregisters", async () => {
    const a = consulKvFactory(parseRegistryUri(`consulkv-unix://${sock}:/unix-services`), context());
    await a.ping();
    await a.register(svc());
    expect(emu.kv()).toEqual({ "unix-services/web/host1:web:80": "10.0.0.2:8080" });
    expect((await a.list!()).map((l) => l.fingerprint)).toEqual(["10.0.0.2:8080"]);
    await a.deregister(svc());
    expect(emu.kv()).toEqual({});
  });
});
