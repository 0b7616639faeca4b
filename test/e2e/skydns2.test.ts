// registrator end to end with skydns2:// on a real etcd: SkyDNS/CoreDNS records on the v3 API by
// default, on the v2 keys API with ?api=v2 (never both), removed when the container stops.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { NOERROR, NXDOMAIN, dnsQuery } from "../support/dns.ts";
import { type Etcd, startEtcd } from "../support/etcd.ts";
import { type SkyDns, skydnsMissing, startSkydns } from "../support/skydns.ts";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eEnv, HOST, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
/** An etcd of this file's own, serving both APIs, so "only in v3" / "only in v2" can be checked. */
let etcd: Etcd;
const procs: Proc[] = [];
const started: string[] = [];

beforeAll(async () => {
  [e, etcd] = await Promise.all([e2eEnv(), startEtcd({ v2: true, name: "skydns-e2e" })]);
}, 60_000);

// What a test started ends with it: no registrator of an earlier test writes during a later one.
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
  await rmf(e, ...started.splice(0));
});

afterAll(async () => {
  await etcd?.stop();
}, 60_000);

async function reg(args: string[]): Promise<Proc> {
  const p = await registrator(e, args);
  procs.push(p);
  return p;
}

async function container(env: string[], containerPort = 80) {
  const name = uniqueName("sky");
  const port = await freePort();
  started.push(name);
  await run(e, ["--name", name, "-p", `${port}:${containerPort}`, ...env.flatMap((v) => ["-e", v])]);
  return { name, port };
}

type Record_ = Record<string, unknown>;
const parse = (v: string | undefined): Record_ | undefined => (v === undefined ? undefined : (JSON.parse(v) as Record_));

/** Polls the v3 key until its parsed JSON equals `want` (undefined = absent). */
async function v3Is(key: string, want: Record_ | undefined, timeout = 5000): Promise<void> {
  await waitFor(async () => {
    expect(parse(await etcd.get(key))).toEqual(want);
    return true;
  }, { timeout, interval: 20, message: `v3 key ${key} never became ${JSON.stringify(want) ?? "absent"}` });
}

async function v2Is(key: string, want: Record_ | undefined, timeout = 5000): Promise<void> {
  await waitFor(async () => {
    expect(parse((await etcd.getV2(key))?.value)).toEqual(want);
    return true;
  }, { timeout, interval: 20, message: `v2 key ${key} never became ${JSON.stringify(want) ?? "absent"}` });
}

/** What a DNS label made of `s` looks like (parity "SkyDNS records"), for IDs shorter than 63. */
function label(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "");
}

describe("skydns2 on etcd v3 (the default)", () => {
  test("SERVICE_ID=web1 → /skydns/local/skydns/busybox/web1 = {host,port,ttl:60} in v3, not in v2; gone on docker stop", async () => {
    const p = await reg(["-ip", "127.0.0.1", `skydns2://${etcd.endpoint}/skydns.local`]);
    const web1 = await container(["SERVICE_ID=web1"]);
    const key = "/skydns/local/skydns/busybox/web1";
    await v3Is(key, { host: "127.0.0.1", port: web1.port, ttl: 60, registrator: "web1" });
    // The raw value is exactly what CoreDNS reads (no stray fields beyond the documented ones).
    expect(Object.keys(parse(await etcd.get(key)) ?? {}).sort()).toEqual(["host", "port", "registrator", "ttl"]);
    expect(await etcd.getV2(key)).toBeUndefined();

    await e.dockerd.docker(["stop", "-t", "0", web1.name]);
    await v3Is(key, undefined);
    expect(await etcd.getV2(key)).toBeUndefined();
    expect(p.running).toBe(true);
    await p.stop();
  });

  test("names and default IDs become DNS labels; -ttl sets the record's ttl", async () => {
    const p = await reg(["-ip", "127.0.0.1", "-ttl", "30", "-ttl-refresh", "10", `skydns2://${etcd.endpoint}/labels.test`]);
    const c = await container(["SERVICE_NAME=Web_Front.End"]);
    const id = `${HOST}:${c.name}:80`;
    const key = `/skydns/test/labels/web-front-end/${label(id)}`;
    await v3Is(key, { host: "127.0.0.1", port: c.port, ttl: 30, registrator: id });
    // The record lives on registrator's lease (the -ttl), so a dead registrator's records expire.
    const [kv] = await etcd.range(key);
    expect(kv?.lease).toBeDefined();
    expect(await etcd.leaseTtl(kv?.lease as string)).toBeGreaterThan(0);
    await rmf(e, c.name);
    await v3Is(key, undefined);
    await p.stop();
  });
});

describe("skydns2 with ?api=v2 (the old SkyDNS 2 server)", () => {
  test("the same record in the v2 keyspace, not in v3; gone on docker stop", async () => {
    const p = await reg(["-ip", "127.0.0.1", `skydns2://${etcd.endpoint}/skydns.local?api=v2`]);
    const web1 = await container(["SERVICE_ID=web1"]);
    const key = "/skydns/local/skydns/busybox/web1";
    await v2Is(key, { host: "127.0.0.1", port: web1.port, ttl: 60, registrator: "web1" });
    // Read over plain HTTP the way SkyDNS 2 does, not only through the helper.
    const res = await fetch(`${etcd.clientUrl}/v2/keys${key}`);
    expect(res.status).toBe(200);
    const node = ((await res.json()) as { node: { key: string; value: string; dir?: boolean } }).node;
    expect(node.key).toBe(key);
    expect(JSON.parse(node.value)).toEqual({ host: "127.0.0.1", port: web1.port, ttl: 60, registrator: "web1" });
    expect(await etcd.get(key)).toBeUndefined();

    await e.dockerd.docker(["stop", "-t", "0", web1.name]);
    await v2Is(key, undefined);
    expect(await etcd.get(key)).toBeUndefined();
    expect(p.running).toBe(true);
    await p.stop();
  });
});

// Read back through the real SkyDNS 2 server, as DNS clients see it: two instances of a name
// answer A and SRV; when the last goes, its empty directory goes too, so the name is NXDOMAIN
// (SkyDNS answers an empty directory with NOERROR and no records).
describe.skipIf(!!skydnsMissing())("skydns2 ?api=v2 read back through SkyDNS 2", () => {
  let dns: SkyDns | undefined;
  afterAll(async () => {
    await dns?.stop();
  });

  test("A and SRV of two instances, one after the other removed, then NXDOMAIN", async () => {
    dns = await startSkydns(etcd.clientUrl);
    const ask = (name: string, type: "A" | "SRV") => dnsQuery("127.0.0.1", dns!.port, name, type);
    // -internal: each instance at its own container address, so the answers tell them apart.
    const p = await reg(["-internal", `skydns2://${etcd.endpoint}/skydns.local?api=v2`]);
    const svc = `dns${process.pid}`;
    const fqdn = `${svc}.skydns.local`;
    expect((await ask(fqdn, "A")).rcode).toBe(NXDOMAIN);
    const a = await container([`SERVICE_NAME=${svc}`]);
    const b = await container([`SERVICE_NAME=${svc}`]);
    const ipOf = async (name: string) => (await e.dockerd.docker(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name])).trim();
    const [ipA, ipB] = [await ipOf(a.name), await ipOf(b.name)];
    const addresses = async () => {
      const r = await ask(fqdn, "A");
      return { rcode: r.rcode, ips: r.answers.map((x) => x.address).sort() };
    };
    await waitFor(async () => {
      expect(await addresses()).toEqual({ rcode: NOERROR, ips: [ipA, ipB].sort() });
      return true;
    }, { timeout: 15_000, message: `${fqdn} A answers ${ipA} and ${ipB}` });
    const srv = await ask(fqdn, "SRV");
    expect(srv.rcode).toBe(NOERROR);
    expect(srv.answers.map((x) => x.srv?.port)).toEqual([80, 80]);
    // Each SRV target is a name of its own that resolves to that instance's address.
    const targets = await Promise.all(srv.answers.map(async (x) => (await ask(x.srv!.target, "A")).answers.map((y) => y.address)));
    expect(targets.flat().sort()).toEqual([ipA, ipB].sort());

    await e.dockerd.docker(["rm", "-f", a.name]);
    await waitFor(async () => {
      expect(await addresses()).toEqual({ rcode: NOERROR, ips: [ipB] });
      return true;
    }, { timeout: 15_000, message: `${fqdn} A answers only ${ipB} once ${a.name} is gone` });
    // The name's directory still holds b's record: it stays.
    expect(await etcd.getV2(`/skydns/local/skydns/${svc}`)).toBeDefined();

    await e.dockerd.docker(["rm", "-f", b.name]);
    await waitFor(async () => (await ask(fqdn, "A")).rcode === NXDOMAIN, { timeout: 15_000, message: `${fqdn} A is NXDOMAIN once both are gone` });
    expect((await ask(fqdn, "SRV")).rcode).toBe(NXDOMAIN);
    expect(await etcd.getV2(`/skydns/local/skydns/${svc}`)).toBeUndefined();
    expect(p.running).toBe(true);
  });
});
