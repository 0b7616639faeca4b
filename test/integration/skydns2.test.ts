// skydns2 adapter against real etcd 3.4: records where CoreDNS (v3) and SkyDNS 2 (v2) read them.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RegistryError } from "../../src/errors.ts";
import { skydns2Factory } from "../../src/registries/skydns2.ts";
import { type Etcd, etcdMissing, startEtcd } from "../support/etcd.ts";
import { adapterContext, rejection, testService } from "../support/fixtures.ts";
import { waitFor } from "../support/proc.ts";

const skip = etcdMissing();

const web1 = testService({ id: "web1", name: "web" });
const long = testService({ id: "host1:Web_Container.Number-1:8080", name: "My_Web", port: 9090 });
const weighted = testService({ id: "web2", name: "web", port: 8082, attrs: { priority: "5", weight: "20" } });
const badAttrs = testService({ id: "web3", name: "web", port: 8083, attrs: { priority: "high", weight: "-1" } });
const v6 = testService({ id: "web6", name: "web", ip: "fd00::6", port: 80 });

describe.skipIf(skip)("skydns2 on etcd v3 (CoreDNS)", () => {
  let etcd: Etcd;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  }, 30_000);

  test("/skydns/local/skydns/<name>/<id> holds host, port, ttl and the original ID", async () => {
    const { ctx } = adapterContext();
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/skydns.local`), ctx);
    await a.ping();
    await a.register(web1);
    const raw = await etcd.get("/skydns/local/skydns/web/web1");
    expect(raw).toBe('{"host":"10.0.0.2","port":8080,"ttl":60,"registrator":"web1"}');
    expect(JSON.parse(raw as string)).toEqual({ host: "10.0.0.2", port: 8080, ttl: 60, registrator: "web1" });
  });

  test("names and IDs become DNS labels; priority/weight from attrs when numeric; IPv6 host unbracketed", async () => {
    const { ctx, log } = adapterContext();
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/Skydns.Local.`), ctx);
    for (const s of [long, weighted, badAttrs, v6]) await a.register(s);
    const kvs = await etcd.range("/skydns/local/skydns/");
    const byKey = Object.fromEntries(kvs.map((kv) => [kv.key, JSON.parse(kv.value)]));
    expect(byKey["/skydns/local/skydns/my-web/host1-web-container-number-1-8080"]).toEqual({
      host: "10.0.0.2",
      port: 9090,
      ttl: 60,
      registrator: "host1:Web_Container.Number-1:8080",
    });
    expect(byKey["/skydns/local/skydns/web/web2"]).toEqual({ host: "10.0.0.2", port: 8082, ttl: 60, priority: 5, weight: 20, registrator: "web2" });
    expect(byKey["/skydns/local/skydns/web/web3"]).toEqual({ host: "10.0.0.2", port: 8083, ttl: 60, registrator: "web3" });
    expect(byKey["/skydns/local/skydns/web/web6"]).toEqual({ host: "fd00::6", port: 80, ttl: 60, registrator: "web6" });
    expect(log.lines.filter((l) => l.level === "warn" && /ignoring (priority|weight)/.test(l.msg))).toHaveLength(2);
  });

  test("list() returns our records with the original IDs and fingerprints; foreign records are skipped", async () => {
    const { ctx } = adapterContext();
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/list.test`), ctx);
    await a.register(long);
    await a.register(web1);
    await etcd.put("/skydns/test/list/web/foreign", '{"host":"1.2.3.4","port":1}'); // no registrator marker
    await etcd.put("/skydns/test/list/web/broken", "{not json");
    const listed = (await a.list!()).sort((x, y) => x.id.localeCompare(y.id));
    expect(listed).toEqual([
      {
        id: "host1:Web_Container.Number-1:8080",
        name: "my-web",
        ip: "10.0.0.2",
        port: 9090,
        protocol: "tcp",
        fingerprint: a.fingerprint!(long),
      },
      { id: "web1", name: "web", ip: "10.0.0.2", port: 8080, protocol: "tcp", fingerprint: a.fingerprint!(web1) },
    ]);
    // What list() reports is enough to deregister it.
    for (const s of listed) await a.deregister(s);
    expect((await etcd.range("/skydns/test/list/")).map((kv) => kv.key).sort()).toEqual([
      "/skydns/test/list/web/broken",
      "/skydns/test/list/web/foreign",
    ]);
  });

  test("with -ttl: the ttl field follows it, keys share one lease, refresh keeps them", async () => {
    const { ctx } = adapterContext({ ttl: 2 });
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/ttl.local`), ctx);
    await a.register(web1);
    await a.register(weighted);
    const kvs = await etcd.range("/skydns/local/ttl/");
    expect(JSON.parse(kvs[0]?.value ?? "{}").ttl).toBe(2);
    expect(kvs[0]?.lease).toBeDefined();
    expect(kvs[1]?.lease).toBe(kvs[0]?.lease as string);
    await waitFor(async () => (await etcd.range("/skydns/local/ttl/")).length === 0, { timeout: 8000, interval: 200, message: "expiry" });
    await a.refresh([web1, weighted]);
    expect((await etcd.range("/skydns/local/ttl/")).length).toBe(2);
    await a.close({ deregisterAll: true });
    expect(await etcd.range("/skydns/local/ttl/")).toEqual([]);
  });

  test("deregister removes the record; unsafe names are refused", async () => {
    const { ctx } = adapterContext();
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/skydns.local`), ctx);
    await a.register(web1);
    await a.deregister(web1);
    await a.deregister(web1);
    expect(await etcd.get("/skydns/local/skydns/web/web1")).toBeUndefined();
    for (const s of [{ ...web1, name: "../x" }, { ...web1, id: ".." }, { ...web1, id: "" }, { ...web1, name: "a\u0007" }]) {
      const e = await rejection(a.register(s), RegistryError);
      expect(e.message).toContain("skydns2");
    }
  });
});

describe.skipIf(skip)("skydns2 on etcd v2 (?api=v2, SkyDNS 2)", () => {
  let etcd: Etcd;
  beforeAll(async () => {
    etcd = await startEtcd({ v2: true });
  });
  afterAll(async () => {
    await etcd?.stop();
  }, 30_000);

  test("writes the same record through the v2 keys API, with the TTL on the key", async () => {
    const { ctx } = adapterContext({ ttl: 30 });
    const a = skydns2Factory(parseRegistryUri(`skydns2://${etcd.endpoint}/skydns.local?api=v2`), ctx);
    await a.ping();
    await a.register(web1);
    const node = await etcd.getV2("/skydns/local/skydns/web/web1");
    expect(node?.ttl).toBe(30);
    expect(JSON.parse(node?.value ?? "{}")).toEqual({ host: "10.0.0.2", port: 8080, ttl: 30, registrator: "web1" });
    expect(await etcd.range("/skydns/")).toEqual([]); // nothing in the v3 keyspace
    expect((await a.list!()).map((s) => s.id)).toEqual(["web1"]);
    await a.refresh([web1]);
    await a.deregister(web1);
    expect(await etcd.getV2("/skydns/local/skydns/web/web1")).toBeUndefined();
  });
});
