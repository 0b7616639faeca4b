// registrator end to end on a three-member etcd cluster: failover when the member in use stops
// while containers come and go, and -ttl leases that expire when registrator is SIGKILLed.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type Etcd, type EtcdCluster, startEtcdCluster } from "../support/etcd.ts";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eEnv, HOST, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
let cluster: EtcdCluster;
const procs: Proc[] = [];
const started: string[] = [];
/** Every container of this file is named `<tag>…`, so keys of other files' containers are ignored. */
const tag = `clu${process.pid}x`;

beforeAll(async () => {
  [e, cluster] = await Promise.all([e2eEnv(), startEtcdCluster(3)]);
}, 90_000);

// What a test started ends with it: no registrator of an earlier test writes during a later one.
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop("SIGKILL");
  await rmf(e, ...started.splice(0));
});

afterAll(async () => {
  await cluster?.stop();
}, 90_000);

const member = (i: number) => cluster.members[i] as Etcd;

async function reg(prefix: string, extra: string[] = []): Promise<Proc> {
  const p = await registrator(e, ["-ip", "127.0.0.1", ...extra, `etcd://${cluster.endpoints}${prefix}`]);
  procs.push(p);
  return p;
}

async function container() {
  const name = uniqueName("clu");
  expect(name.startsWith(tag)).toBe(true);
  const port = await freePort();
  started.push(name);
  await run(e, ["--name", name, "-p", `${port}:6379`]);
  return { name, port };
}

const key = (prefix: string, name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;

/** This file's keys under prefix as read from one member (a linearizable read through that member). */
async function ours(m: Etcd, prefix: string): Promise<Record<string, string>> {
  const kvs = await m.range(`${prefix}/busybox/${HOST}:${tag}`);
  return Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]));
}

async function converges(m: Etcd, prefix: string, want: Record<string, string>, timeout: number, what: string): Promise<void> {
  await waitFor(async () => {
    expect(await ours(m, prefix)).toEqual(want);
    return true;
  }, { timeout, interval: 50, message: what });
}

const entry = (prefix: string, c: { name: string; port: number }) => [key(prefix, c.name), `127.0.0.1:${c.port}`] as const;

describe("three-member etcd cluster", () => {
  test("the member in use stops while containers come and go: final state exact on the survivors", async () => {
    const prefix = `/cluster${process.pid}`;
    const p = await reg(prefix);
    const stays = await container();
    const goes = await container();
    await converges(member(2), prefix, Object.fromEntries([entry(prefix, stays), entry(prefix, goes)]), 5000, "initial registrations");

    // registrator talks to the first endpoint of its list until that one fails.
    expect(p.lines.filter((l) => l.includes("using endpoint"))).toEqual([]);
    await cluster.stopMember(0);
    expect(member(0).running).toBe(false);
    const mark = p.mark();
    const comes = await container();
    await rmf(e, goes.name);
    const flaps = await container();
    await rmf(e, flaps.name);
    const later = await container();

    const want = Object.fromEntries([entry(prefix, stays), entry(prefix, comes), entry(prefix, later)]);
    await converges(member(2), prefix, want, 30_000, "survivors did not converge while member 0 was down");
    expect(await ours(member(1), prefix)).toEqual(want);
    // It did switch endpoints (and said so), and kept running.
    await p.waitForLine(new RegExp(`using endpoint http://${member(1).endpoint.replace(/\./g, "\\.")}|using endpoint http://${member(2).endpoint.replace(/\./g, "\\.")}`), 5000, mark);
    expect(p.running).toBe(true);

    // The stopped member catches up once back, and nothing changes meanwhile.
    await cluster.startMember(0);
    await converges(member(0), prefix, want, 30_000, "member 0 did not catch up after restart");
    expect(await ours(member(2), prefix)).toEqual(want);
    await p.stop();
    await rmf(e, stays.name, comes.name, later.name);
  }, 120_000);

  test("-ttl 10 -ttl-refresh 3: SIGKILLed registrator's keys expire; a restarted one registers everything again", async () => {
    const prefix = `/clttl${process.pid}`;
    const args = ["-ttl", "10", "-ttl-refresh", "3"];
    const p = await reg(prefix, args);
    const a = await container();
    const b = await container();
    const want = Object.fromEntries([entry(prefix, a), entry(prefix, b)]);
    await converges(member(1), prefix, want, 5000, "initial registrations");
    // Both keys hang on one lease of registrator's.
    const kvs = await member(1).range(`${prefix}/busybox/${HOST}:${tag}`);
    const leases = new Set(kvs.map((kv) => kv.lease));
    expect(leases.size).toBe(1);
    const lease = [...leases][0];
    expect(lease).toBeDefined();

    // Kept alive past its TTL by the refreshes (a lease without keepalives would be gone by now).
    await waitFor(async () => {
      const ttl = await member(1).leaseTtl(lease as string);
      return ttl > 0 && ttl >= 10 - 3 - 1;
    }, { timeout: 5000, message: "lease not kept alive" });

    const code = await p.stop("SIGKILL");
    expect(code).not.toBe(0);
    const killedAt = Date.now();
    // Gone within the TTL (polled up to 20 s), through expiry: not right away, since a killed
    // process cannot delete anything.
    await converges(member(2), prefix, {}, 20_000, "keys did not expire after SIGKILL");
    const gone = Date.now() - killedAt;
    expect(gone).toBeGreaterThan(4000);
    expect(await member(2).leaseTtl(lease as string)).toBe(-1);

    // A new registrator (same flags) puts everything back, on a new lease.
    await reg(prefix, args);
    await converges(member(0), prefix, want, 10_000, "keys not re-registered after restart");
    const after = await member(0).range(`${prefix}/busybox/${HOST}:${tag}`);
    expect(after.every((kv) => kv.lease !== undefined && kv.lease !== lease)).toBe(true);
  }, 120_000);
});
