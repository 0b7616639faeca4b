// etcd adapter against real etcd 3.4 servers (v3 gateway, v2 keys API, a three-member cluster,
// TLS, auth), driven directly with hand-built services. Every check reads etcd itself.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError, RegistryError } from "../../src/errors.ts";
import { etcdFactory } from "../../src/registries/etcd.ts";
import type { RegistryAdapter } from "../../src/types.ts";
import { type Etcd, type EtcdCluster, type TestCerts, etcdMissing, makeTestCerts, startEtcd, startEtcdCluster } from "../support/etcd.ts";
import { adapterContext, refusedBothWays, rejection, testService } from "../support/fixtures.ts";
import { freePort, waitFor } from "../support/proc.ts";

const skip = etcdMissing();

const web1 = testService();
const web2 = testService({ id: "host1:web2:80", origin: { containerName: "web2" }, port: 8081 });
const dns = testService({ id: "host1:dns:53:udp", name: "dns", protocol: "udp", port: 5353 });
const v6 = testService({ id: "host1:v6:80", name: "v6", ip: "fd00::12", port: 80 });

describe.skipIf(skip)("etcd v3", () => {
  let etcd: Etcd;
  const open: RegistryAdapter[] = [];
  const adapter = (prefix: string, o: { ttl?: number; env?: Record<string, string> } = {}) => {
    const { ctx, log } = adapterContext(o);
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}${prefix}`), ctx);
    open.push(a);
    return { a, log };
  };
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const a of open) await a.close().catch(() => {});
    await etcd?.stop();
  }, 60_000);

  test("register writes <prefix>/<name>/<id> = ip:port ([v6]:port), deregister deletes idempotently", async () => {
    const { a } = adapter("/services");
    await a.ping();
    for (const s of [web1, dns, v6]) await a.register(s);
    expect(await etcd.range("/services/")).toEqual([
      { key: "/services/dns/host1:dns:53:udp", value: "10.0.0.2:5353" },
      { key: "/services/v6/host1:v6:80", value: "[fd00::12]:80" },
      { key: "/services/web/host1:web1:80", value: "10.0.0.2:8080" },
    ]);
    await a.register(web1); // idempotent upsert
    expect(await etcd.get("/services/web/host1:web1:80")).toBe("10.0.0.2:8080");
    await a.deregister(web1);
    await a.deregister(web1); // already gone counts as done
    expect(await etcd.get("/services/web/host1:web1:80")).toBeUndefined();
    expect((await etcd.range("/services/")).map((kv) => kv.key)).toEqual([
      "/services/dns/host1:dns:53:udp",
      "/services/v6/host1:v6:80",
    ]);
  });

  test("list() reads back identity, address and fingerprint; fingerprint() matches; foreign keys ignored", async () => {
    const { a } = adapter("/listing");
    for (const s of [web1, web2, dns, v6]) await a.register(s);
    await etcd.put("/listing/odd", "x"); // not <name>/<id>
    await etcd.put("/listing/a/b/c", "1.2.3.4:5"); // too deep
    await etcd.put("/listingX/web/other", "1.2.3.4:5"); // outside the prefix
    await etcd.put("/listing/web/junk", "not-an-address");
    const listed = (await a.list!()).sort((x, y) => x.id.localeCompare(y.id));
    expect(listed).toEqual([
      { id: "host1:dns:53:udp", name: "dns", ip: "10.0.0.2", port: 5353, protocol: "udp", fingerprint: "10.0.0.2:5353" },
      { id: "host1:v6:80", name: "v6", ip: "fd00::12", port: 80, protocol: "tcp", fingerprint: "[fd00::12]:80" },
      { id: "host1:web1:80", name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp", fingerprint: "10.0.0.2:8080" },
      { id: "host1:web2:80", name: "web", ip: "10.0.0.2", port: 8081, protocol: "tcp", fingerprint: "10.0.0.2:8081" },
      { id: "junk", name: "web", ip: "", port: 0, protocol: "tcp", fingerprint: "not-an-address" },
    ]);
    for (const s of [web1, web2, dns, v6]) expect(listed.find((l) => l.id === s.id)?.fingerprint).toBe(a.fingerprint!(s));
    expect(a.fingerprint!({ ...web1, port: 9999 })).not.toBe(listed.find((l) => l.id === web1.id)?.fingerprint);
  });

  test("an empty prefix writes /<name>/<id>", async () => {
    const { a } = adapter("");
    await a.register({ ...web1, name: "rootsvc" });
    expect(await etcd.get("/rootsvc/host1:web1:80")).toBe("10.0.0.2:8080");
    await a.deregister({ ...web1, name: "rootsvc" });
    expect(await etcd.get("/rootsvc/host1:web1:80")).toBeUndefined();
  });

  test("TTL: one lease for all keys; refresh is one keepalive (no writes) that renews it", async () => {
    const { a } = adapter("/ttl", { ttl: 10 });
    const before = await etcd.putCount();
    await a.register(web1);
    await a.register(web2);
    const kvs = await etcd.range("/ttl/");
    expect(kvs).toHaveLength(2);
    const lease = kvs[0]?.lease as string;
    expect(lease).toMatch(/^\d+$/);
    expect(kvs[1]?.lease).toBe(lease);
    expect(await etcd.putCount()).toBe(before + 2);
    // Wait until the lease has visibly aged, then one refresh brings it back to the full TTL.
    await waitFor(async () => (await etcd.leaseTtl(lease)) <= 8, { timeout: 5000, interval: 200, message: "lease ageing" });
    await a.refresh([web1, web2]);
    expect(await etcd.leaseTtl(lease)).toBeGreaterThanOrEqual(9);
    expect(await etcd.putCount()).toBe(before + 2);
    expect((await etcd.range("/ttl/")).map((kv) => kv.lease)).toEqual([lease, lease]);
  });

  test("TTL: lease lost (keepalive reports no TTL) → re-grant and re-put every service passed to refresh", async () => {
    const { a, log } = adapter("/lost", { ttl: 10 });
    await a.register(web1);
    await a.register(web2);
    const old = (await etcd.range("/lost/"))[0]?.lease as string;
    await etcd.revokeLease(old); // what expiry does: the lease and its keys are gone
    expect(await etcd.range("/lost/")).toEqual([]);
    await a.refresh([web1, web2]);
    const kvs = await etcd.range("/lost/");
    expect(kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ["/lost/web/host1:web1:80", "10.0.0.2:8080"],
      ["/lost/web/host1:web2:80", "10.0.0.2:8081"],
    ]);
    expect(kvs[0]?.lease).toBeDefined();
    expect(kvs[0]?.lease).not.toBe(old);
    expect(kvs[1]?.lease).toBe(kvs[0]?.lease as string);
    expect(log.lines.some((l) => l.level === "warn" && /lease .* lost/.test(l.msg))).toBe(true);
  });

  test("TTL: a put answered 404 (lease gone) → re-grant, and the held keys are written again", async () => {
    const { a } = adapter("/put404", { ttl: 10 });
    await a.register(web1);
    const old = (await etcd.range("/put404/"))[0]?.lease as string;
    await etcd.revokeLease(old);
    await a.register(web2);
    const kvs = await etcd.range("/put404/");
    expect(kvs.map((kv) => kv.key)).toEqual(["/put404/web/host1:web1:80", "/put404/web/host1:web2:80"]);
    expect(new Set(kvs.map((kv) => kv.lease)).size).toBe(1);
    expect(kvs[0]?.lease).not.toBe(old);
  });

  test("TTL: keys really expire without refresh, and refresh brings them back", async () => {
    const { a } = adapter("/expire", { ttl: 2 });
    await a.register(web1);
    await waitFor(async () => (await etcd.range("/expire/")).length === 0, { timeout: 8000, interval: 200, message: "lease expiry" });
    await a.refresh([web1]);
    expect((await etcd.range("/expire/")).map((kv) => kv.value)).toEqual(["10.0.0.2:8080"]);
  });

  test("close({deregisterAll}) revokes the lease (keys go); close() alone leaves them", async () => {
    const { a } = adapter("/close1", { ttl: 30 });
    await a.register(web1);
    await a.close();
    expect(await etcd.get("/close1/web/host1:web1:80")).toBe("10.0.0.2:8080");
    const { a: b } = adapter("/close2", { ttl: 30 });
    await b.register(web1);
    const lease = (await etcd.range("/close2/"))[0]?.lease as string;
    await b.close({ deregisterAll: true });
    expect(await etcd.get("/close2/web/host1:web1:80")).toBeUndefined();
    expect(await etcd.leases()).not.toContain(lease);
  });

  test("path escapes are refused before anything is written", async () => {
    const { a } = adapter("/safe");
    const before = await etcd.putCount();
    const bad = [
      { ...web1, name: "../../x" },
      { ...web1, name: ".." },
      { ...web1, name: "." },
      { ...web1, name: "" },
      { ...web1, name: "a/b" },
      { ...web1, id: "../escape" },
      { ...web1, id: "id\nnewline" },
      { ...web1, id: "" },
      { ...web1, id: "nul\u0000" },
    ];
    for (const s of bad) {
      expect((await refusedBothWays(a, s)).message).toMatch(/Refusing service (name|ID) .* as a key segment in etcd/);
    }
    expect(await etcd.putCount()).toBe(before);
    expect(await etcd.range("/")).not.toContainEqual(expect.objectContaining({ key: "/x" }));
  });

  test("?api=v2 against a cluster without --enable-v2: the message names the API and the fixes", async () => {
    const { ctx } = adapterContext();
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/services?api=v2`), ctx);
    const e = await rejection(a.ping(), RegistryError);
    expect(e.message).toContain("does not serve the v2 keys API");
    expect(e.message).toContain("--enable-v2");
    expect(e.message).toContain('remove "?api=v2"');
    const r = await rejection(a.register(web1));
    expect(r.message).toContain("does not serve the v2 keys API");
  });
});

describe.skipIf(skip)("etcd: no v3 API, nothing listening", () => {
  test("a server that answers 404 on /v3/kv/range: the message says v3 and how to switch to v2", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("404 page not found\n", { status: 404 }) });
    try {
      const { ctx } = adapterContext();
      const a = etcdFactory(parseRegistryUri(`etcd://127.0.0.1:${server.port}/services`), ctx);
      const e = await rejection(a.ping(), RegistryError);
      expect(e.message).toContain("does not serve the v3 API");
      expect(e.message).toContain("/v3/kv/range");
      expect(e.message).toContain('"?api=v2"');
    } finally {
      server.stop(true);
    }
  });

  test("nothing listening: RegistryError naming the endpoint", async () => {
    const port = await freePort();
    const { ctx } = adapterContext();
    const a = etcdFactory(parseRegistryUri(`etcd://127.0.0.1:${port}/services`), ctx);
    const e = await rejection(a.ping(), RegistryError);
    expect(e).not.toBeInstanceOf(ConfigError);
    expect(e.message).toContain(`http://127.0.0.1:${port}`);
    expect(e.message).toContain("cannot reach etcd");
  });

  test("a server that never answers: the request times out", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      const { ctx } = adapterContext();
      const a = etcdFactory(parseRegistryUri(`etcd://127.0.0.1:${server.port}/services`), ctx, { timeoutMs: 300 });
      // The server never answers: any rejection at all is the timeout's.
      const e = await rejection(a.ping());
      expect(e.message).toContain("timed out");
    } finally {
      server.stop(true);
    }
  });
});

describe.skipIf(skip)("etcd v2 keys API (?api=v2)", () => {
  let etcd: Etcd;
  beforeAll(async () => {
    etcd = await startEtcd({ v2: true });
  });
  afterAll(async () => {
    await etcd?.stop();
  }, 60_000);

  test("register with ttl, refresh renews the TTL without rewriting, deregister, list", async () => {
    const { ctx, log } = adapterContext({ ttl: 30 });
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/services?api=v2`), ctx);
    await a.ping();
    await a.register(web1);
    await a.register(v6);
    expect(await etcd.getV2("/services/web/host1:web1:80")).toEqual({ value: "10.0.0.2:8080", ttl: 30 });
    expect(await etcd.getV2("/services/v6/host1:v6:80")).toMatchObject({ value: "[fd00::12]:80" });
    // v2 and v3 are separate keyspaces: nothing went to v3.
    expect(await etcd.range("/services/")).toEqual([]);

    await waitFor(async () => ((await etcd.getV2("/services/web/host1:web1:80"))?.ttl ?? 99) <= 28, {
      timeout: 5000,
      interval: 200,
      message: "v2 TTL ageing",
    });
    await a.refresh([web1, v6]);
    expect(((await etcd.getV2("/services/web/host1:web1:80"))?.ttl ?? 0) >= 29).toBe(true);

    // A key that expired (here: deleted behind our back) is written again by refresh.
    await fetch(`${etcd.clientUrl}/v2/keys/services/v6/host1:v6:80`, { method: "DELETE" });
    await a.refresh([web1, v6]);
    expect(await etcd.getV2("/services/v6/host1:v6:80")).toMatchObject({ value: "[fd00::12]:80", ttl: 30 });
    expect(log.lines.some((l) => l.level === "warn" && /expired before their TTL refresh/.test(l.msg))).toBe(true);

    const listed = (await a.list!()).sort((x, y) => x.id.localeCompare(y.id));
    expect(listed).toEqual([
      { id: "host1:v6:80", name: "v6", ip: "fd00::12", port: 80, protocol: "tcp", fingerprint: "[fd00::12]:80" },
      { id: "host1:web1:80", name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp", fingerprint: "10.0.0.2:8080" },
    ]);

    await a.deregister(web1);
    await a.deregister(web1);
    expect(await etcd.getV2("/services/web/host1:web1:80")).toBeUndefined();
    await a.close({ deregisterAll: true });
  });

  test("TTL really expires on v2 without refresh", async () => {
    const { ctx } = adapterContext({ ttl: 1 });
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/short?api=v2`), ctx);
    await a.register(web1);
    expect(await etcd.getV2("/short/web/host1:web1:80")).toMatchObject({ value: "10.0.0.2:8080" });
    await waitFor(async () => (await etcd.getV2("/short/web/host1:web1:80")) === undefined, {
      timeout: 8000,
      interval: 200,
      message: "v2 key expiry",
    });
  });

  test("without ttl, keys are permanent and refresh does nothing", async () => {
    const { ctx } = adapterContext();
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/perm?api=v2`), ctx);
    await a.register(web1);
    expect(await etcd.getV2("/perm/web/host1:web1:80")).toEqual({ value: "10.0.0.2:8080" });
    await a.refresh([web1]);
    expect(await etcd.getV2("/perm/web/host1:web1:80")).toEqual({ value: "10.0.0.2:8080" });
  });

  test("an empty listing is [] and escapes are refused on v2 as well", async () => {
    const { ctx } = adapterContext();
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/nothing-here?api=v2`), ctx);
    expect(await a.list!()).toEqual([]);
    await rejection(a.register({ ...web1, name: ".." }), RegistryError);
    await rejection(a.register({ ...web1, id: "a/../../b" }), RegistryError);
    expect(await etcd.getV2("/b")).toBeUndefined();
  });
});

describe.skipIf(skip)("etcd three-member cluster", () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  test("the member in use stops: requests fail over to the next endpoint and keep working", async () => {
    const { ctx, log } = adapterContext({ ttl: 20 });
    const a = etcdFactory(parseRegistryUri(`etcd://${cluster.endpoints}/cluster`), ctx);
    await a.ping();
    await a.register(web1);
    const m1 = cluster.members[1] as Etcd;
    expect(await m1.get("/cluster/web/host1:web1:80")).toBe("10.0.0.2:8080");

    await cluster.stopMember(0); // the first endpoint, the one in use
    await a.register(web2);
    await a.refresh([web1, web2]);
    expect((await a.list!()).map((s) => s.id).sort()).toEqual(["host1:web1:80", "host1:web2:80"]);
    expect(await m1.get("/cluster/web/host1:web2:80")).toBe("10.0.0.2:8081");
    expect(log.lines.some((l) => /using endpoint http:\/\/127\.0\.0\.1:\d+/.test(l.msg))).toBe(true);

    await cluster.stopMember(1); // now the one in use again; two of three down = no quorum
    const e = await rejection(a.register(dns), RegistryError);
    await cluster.startMember(0);
    await waitFor(
      async () => {
        await a.register(dns);
        return true;
      },
      { timeout: 20_000, interval: 200, message: "writes after quorum returns" },
    );
    expect(await (cluster.members[0] as Etcd).get("/cluster/dns/host1:dns:53:udp")).toBe("10.0.0.2:5353");
    await cluster.startMember(1);
    await a.close({ deregisterAll: true });
    expect(await (cluster.members[2] as Etcd).range("/cluster/")).toEqual([]);
  }, 90_000);
});

describe.skipIf(skip)("etcd TLS", () => {
  let certs: TestCerts;
  let etcd: Etcd;
  beforeAll(async () => {
    certs = await makeTestCerts();
    etcd = await startEtcd({
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caFile, clientCertAuth: true },
    });
    etcd.clientTls = { caFile: certs.caFile, certFile: certs.clientCert, keyFile: certs.clientKey };
  }, 60_000);
  afterAll(async () => {
    await etcd?.stop();
  }, 60_000);

  const env = (ca: string): Record<string, string> => ({
    ETCDCTL_CACERT: ca,
    ETCDCTL_CERT: certs.clientCert,
    ETCDCTL_KEY: certs.clientKey,
  });

  test("etcd+https:// with the right CA and client certificate works", async () => {
    const { ctx } = adapterContext({ env: env(certs.caFile) });
    const a = etcdFactory(parseRegistryUri(`etcd+https://${etcd.endpoint}/tls`), ctx);
    await a.ping();
    await a.register(web1);
    expect(await etcd.get("/tls/web/host1:web1:80")).toBe("10.0.0.2:8080");
    expect((await a.list!()).map((s) => s.id)).toEqual([web1.id]);
  });

  test("etcd:// with ETCDCTL_CACERT set also speaks TLS", async () => {
    const { ctx } = adapterContext({ env: env(certs.caFile) });
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/tls2`), ctx);
    await a.register(web1);
    expect(await etcd.get("/tls2/web/host1:web1:80")).toBe("10.0.0.2:8080");
  });

  test("the wrong CA fails with a TLS hint; a missing client certificate fails too", async () => {
    const { ctx } = adapterContext({ env: env(certs.otherCaFile) });
    const e = await rejection(etcdFactory(parseRegistryUri(`etcd+https://${etcd.endpoint}/tls`), ctx).ping(), RegistryError);
    expect(e.message).toContain("ETCDCTL_CACERT");
    expect(e.message).toContain(`https://${etcd.endpoint}`);

    const { ctx: noCert } = adapterContext({ env: { ETCDCTL_CACERT: certs.caFile } });
    const e2 = await rejection(etcdFactory(parseRegistryUri(`etcd+https://${etcd.endpoint}/tls`), noCert).ping(), RegistryError);
  });

  test("an unreadable ETCDCTL_CACERT is a ConfigError at ping", async () => {
    const { ctx } = adapterContext({ env: { ETCDCTL_CACERT: "/nonexistent/ca.pem" } });
    const e = await rejection(etcdFactory(parseRegistryUri(`etcd+https://${etcd.endpoint}/tls`), ctx).ping(), ConfigError);
    expect(e.message).toContain('ETCDCTL_CACERT "/nonexistent/ca.pem"');
  });
});

describe.skipIf(skip)("etcd auth", () => {
  let etcd: Etcd;
  const PASSWORD = "s3cret-Pa55word";
  beforeAll(async () => {
    etcd = await startEtcd();
    await etcd.enableAuth("root", PASSWORD);
  });
  afterAll(async () => {
    await etcd?.stop();
  }, 60_000);

  test("ETCDCTL_USER=user:pass authenticates; the raw token is sent and renewed after a restart", async () => {
    const { ctx, log } = adapterContext({ env: { ETCDCTL_USER: `root:${PASSWORD}` }, ttl: 30 });
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/auth`), ctx);
    await a.ping();
    await a.register(web1);
    expect(await etcd.get("/auth/web/host1:web1:80")).toBe("10.0.0.2:8080");
    // Simple tokens live in the server's memory: after a restart ours is invalid (401) → re-authenticate.
    await etcd.restart();
    await waitFor(
      async () => {
        await a.register(web2);
        return true;
      },
      { timeout: 15_000, interval: 200, message: "register after restart" },
    );
    expect(await etcd.get("/auth/web/host1:web2:80")).toBe("10.0.0.2:8081");
    await a.refresh([web1, web2]);
    expect((await a.list!()).length).toBe(2);
    expect(JSON.stringify(log.lines)).not.toContain(PASSWORD);
  });

  test("a wrong password is a ConfigError at ping that never shows the password", async () => {
    const wrong = "wrong-Pa55word-123";
    const { ctx, log } = adapterContext({ env: { ETCDCTL_USER: `root:${wrong}` } });
    const a = etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/auth`), ctx);
    const e = await rejection(a.ping(), ConfigError);
    expect(e.message).toContain("authentication failed");
    expect(e.message).toContain('"root"');
    expect(e.message).not.toContain(wrong);
    const r = await rejection(a.register(web1), RegistryError);
    expect(r.message).not.toContain(wrong);
    expect(JSON.stringify(log.lines)).not.toContain(wrong);
  });

  test("ETCDCTL_USER with ETCDCTL_PASSWORD works too; no user against an auth cluster says to set one", async () => {
    const { ctx } = adapterContext({ env: { ETCDCTL_USER: "root", ETCDCTL_PASSWORD: PASSWORD } });
    await etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/auth`), ctx).ping();
    const { ctx: anon } = adapterContext();
    const e = await rejection(etcdFactory(parseRegistryUri(`etcd://${etcd.endpoint}/auth`), anon).ping(), RegistryError);
    expect(e.message).toContain("ETCDCTL_USER");
  });
});
