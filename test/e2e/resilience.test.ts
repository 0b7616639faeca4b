// registrator keeps going when Docker or etcd go away, and -deregister on-success / -resync behave.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eEnv, HOST, keyIs, keysUnder, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
const procs: Proc[] = [];
const started: string[] = [];

beforeAll(async () => {
  e = await e2eEnv();
});

afterAll(async () => {
  for (const p of procs) await p.stop();
  await rmf(e, ...started);
});

async function reg(prefix: string, extra: string[] = []): Promise<Proc> {
  const p = await registrator(e, ["-ip", "127.0.0.1", ...extra, `etcd://${e.etcd.endpoint}${prefix}`]);
  procs.push(p);
  return p;
}

async function container(args: string[] = [], cmd?: string[]) {
  const name = uniqueName();
  const port = await freePort();
  started.push(name);
  await run(e, ["--name", name, "-p", `${port}:6379`, ...args], cmd);
  return { name, port };
}

describe("-deregister on-success", () => {
  const prefix = `/onsuccess${process.pid}`;
  const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;

  test("exit 0 deregisters, exit 3 keeps, a kill deregisters", async () => {
    await reg(prefix, ["-deregister", "on-success"]);
    const gate = ["sh", "-c", "while [ ! -f /go ]; do sleep 0.05; done; exit $(cat /go)"];
    const ok = await container([], gate);
    const fail = await container([], gate);
    const killed = await container();
    for (const c of [ok, fail, killed]) await keyIs(e, key(c.name), `127.0.0.1:${c.port}`);
    await e.dockerd.docker(["exec", ok.name, "sh", "-c", "echo 0 > /go"]);
    await e.dockerd.docker(["exec", fail.name, "sh", "-c", "echo 3 > /go"]);
    await e.dockerd.docker(["kill", killed.name]);
    await keyIs(e, key(ok.name), undefined);
    await keyIs(e, key(killed.name), undefined);
    await waitFor(async () => (await e.dockerd.json(`/containers/${fail.name}/json`)).State.ExitCode === 3, { message: "never exited 3" });
    // Both other containers' removals were seen after fail exited, so its event was processed too.
    expect(await e.etcd.get(key(fail.name))).toBe(`127.0.0.1:${fail.port}`);
    await rmf(e, fail.name);
    await keyIs(e, key(fail.name), undefined);
  });
});

describe("outages", () => {
  test("dockerd restarted while registrator runs: stopped containers removed, new ones registered, registrator stays up", async () => {
    const prefix = `/dockerd${process.pid}`;
    const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;
    const p = await reg(prefix);
    const before = await container();
    await keyIs(e, key(before.name), `127.0.0.1:${before.port}`);
    const mark = p.mark();
    await e.dockerd.restart();
    // The daemon's shutdown stopped every container, so its entry must go.
    await keyIs(e, key(before.name), undefined, 30_000);
    const after = await container();
    await keyIs(e, key(after.name), `127.0.0.1:${after.port}`, 30_000);
    await p.waitForLine(/Reconnected to Docker/, 30_000, mark);
    expect(p.running).toBe(true);
    await rmf(e, after.name);
    await keyIs(e, key(after.name), undefined);
  });

  test("etcd stopped for 10 s while containers come and go, then restarted: final state exact", async () => {
    const prefix = `/etcdout${process.pid}`;
    const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;
    const p = await reg(prefix);
    const stays = await container();
    const goes = await container();
    await keyIs(e, key(stays.name), `127.0.0.1:${stays.port}`);
    await keyIs(e, key(goes.name), `127.0.0.1:${goes.port}`);
    await e.etcd.stop();
    const downAt = Date.now();
    const comes = await container();
    await rmf(e, goes.name);
    const flaps = await container();
    await rmf(e, flaps.name);
    // Keep etcd down for 10 s in all (a deadline, not a settle-sleep: the outage itself is the test).
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
    expect(p.running).toBe(true);
    await e.etcd.restart();
    await waitFor(async () => {
      const have = await keysUnder(e, prefix);
      const want = { [key(stays.name)]: `127.0.0.1:${stays.port}`, [key(comes.name)]: `127.0.0.1:${comes.port}` };
      expect(have).toEqual(want);
      return true;
    }, { timeout: 30_000, message: "etcd did not converge after the outage" });
    expect(p.running).toBe(true);
  }, 90_000);
});

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function rangeCount(): Promise<number> {
  const text = await (await fetch(`${e.etcd.metricsUrl}/metrics`)).text();
  const m = /^etcd_mvcc_range_total (\d+)/m.exec(text);
  if (!m) throw new Error("etcd_mvcc_range_total missing from etcd's metrics");
  return Number(m[1]);
}

describe("-resync", () => {
  test("against an in-sync etcd writes nothing (etcd's own put counter)", async () => {
    const prefix = `/resync${process.pid}`;
    const p = await reg(prefix, ["-resync", "1"]);
    const c = await container();
    await keyIs(e, `${prefix}/busybox/${HOST}:${c.name}:6379`, `127.0.0.1:${c.port}`);
    // etcd shows the key before the daemon prints its `added:` line: wait for that line too, so it
    // cannot land after the mark and count as a resync write.
    await p.waitForLine(new RegExp(`added: \\S+ ${escapeRe(`${HOST}:${c.name}:6379`)}`), 15_000);
    const mark = p.mark();
    const before = await e.etcd.putCount();
    // Each resync reads the prefix once: wait for three more reads, then compare the put counter.
    const reads0 = await rangeCount();
    await waitFor(async () => (await rangeCount()) >= reads0 + 3, { timeout: 15_000, message: "no resync reads seen" });
    const after = await e.etcd.putCount();
    expect(after - before).toBe(0);
    expect(p.lines.slice(mark).filter((l) => l.includes("added:"))).toEqual([]);
  });

  test("re-writes an entry deleted behind registrator's back", async () => {
    const prefix = `/resync2${process.pid}`;
    await reg(prefix, ["-resync", "1"]);
    const c = await container();
    const k = `${prefix}/busybox/${HOST}:${c.name}:6379`;
    await keyIs(e, k, `127.0.0.1:${c.port}`);
    await fetch(`${e.etcd.clientUrl}/v3/kv/deleterange`, { method: "POST", body: JSON.stringify({ key: btoa(k) }) });
    await keyIs(e, k, `127.0.0.1:${c.port}`, 5000);
  });
});
