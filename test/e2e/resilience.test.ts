// registrator keeps going when Docker or etcd go away, and -deregister on-success / -resync behave.
// Each test's registrators and containers are gone when it ends (e2eFile): none of them can write
// to the shared etcd during a later test.
import { afterEach, describe, expect, test } from "bun:test";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eFile, HOST, httpUrl, keyIs, keysUnder, rmf } from "./helpers.ts";

const file = e2eFile();

afterEach(async () => {
  // A test that failed during the etcd outage must not leave the next ones without etcd.
  if (!file.e.etcd.running) await file.e.etcd.restart();
});

async function reg(prefix: string, extra: string[] = []): Promise<Proc> {
  return file.registrator(["-ip", "127.0.0.1", ...extra, `etcd://${file.e.etcd.endpoint}${prefix}`]);
}

async function container(args: string[] = [], cmd?: string[]) {
  const port = await freePort();
  const name = await file.container(["-p", `${port}:6379`, ...args], cmd);
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
    for (const c of [ok, fail, killed]) await keyIs(file.e, key(c.name), `127.0.0.1:${c.port}`);
    await file.e.dockerd.docker(["exec", ok.name, "sh", "-c", "echo 0 > /go"]);
    await file.e.dockerd.docker(["exec", fail.name, "sh", "-c", "echo 3 > /go"]);
    await file.e.dockerd.docker(["kill", killed.name]);
    await keyIs(file.e, key(ok.name), undefined);
    await keyIs(file.e, key(killed.name), undefined);
    await waitFor(async () => (await file.e.dockerd.json(`/containers/${fail.name}/json`)).State.ExitCode === 3, { message: "never exited 3" });
    // Both other containers' removals were seen after fail exited, so its event was processed too.
    expect(await file.e.etcd.get(key(fail.name))).toBe(`127.0.0.1:${fail.port}`);
    await rmf(file.e, fail.name);
    await keyIs(file.e, key(fail.name), undefined);
  });
});

describe("outages", () => {
  test("dockerd restarted while registrator runs: stopped containers removed, new ones registered, registrator stays up", async () => {
    const prefix = `/dockerd${process.pid}`;
    const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;
    const p = await reg(prefix);
    const before = await container();
    await keyIs(file.e, key(before.name), `127.0.0.1:${before.port}`);
    const mark = p.mark();
    await file.e.dockerd.restart();
    // The daemon's shutdown stopped every container, so its entry must go.
    await keyIs(file.e, key(before.name), undefined, 30_000);
    const after = await container();
    await keyIs(file.e, key(after.name), `127.0.0.1:${after.port}`, 30_000);
    await p.waitForLine(/Reconnected to Docker/, 30_000, mark);
    expect(p.running).toBe(true);
    await rmf(file.e, after.name);
    await keyIs(file.e, key(after.name), undefined);
  });

  test("etcd stopped for 10 s while containers come and go, then restarted: final state exact", async () => {
    const prefix = `/etcdout${process.pid}`;
    const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;
    const p = await reg(prefix);
    const stays = await container();
    const goes = await container();
    await keyIs(file.e, key(stays.name), `127.0.0.1:${stays.port}`);
    await keyIs(file.e, key(goes.name), `127.0.0.1:${goes.port}`);
    await file.e.etcd.stop();
    const downAt = Date.now();
    const comes = await container();
    await rmf(file.e, goes.name);
    const flaps = await container();
    await rmf(file.e, flaps.name);
    // Keep etcd down for 10 s in all (a deadline, not a settle-sleep: the outage itself is the test).
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
    expect(p.running).toBe(true);
    await file.e.etcd.restart();
    await waitFor(async () => {
      const have = await keysUnder(file.e, prefix);
      const want = { [key(stays.name)]: `127.0.0.1:${stays.port}`, [key(comes.name)]: `127.0.0.1:${comes.port}` };
      expect(have).toEqual(want);
      return true;
    }, { timeout: 30_000, message: "etcd did not converge after the outage" });
    expect(p.running).toBe(true);
  }, 90_000);
});

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** How many times this registrator has read its registry to compare (its own /metrics). */
async function registryReads(api: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const m = /^registrator_registry_request_duration_seconds_count\{[^}]*operation="list"[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe("-resync", () => {
  test("against an in-sync etcd writes nothing (a watch on its prefix sees no write)", async () => {
    const prefix = `/resync${process.pid}`;
    const p = await reg(prefix, ["-resync", "1"]);
    const api = await httpUrl(p);
    const c = await container();
    await keyIs(file.e, `${prefix}/busybox/${HOST}:${c.name}:6379`, `127.0.0.1:${c.port}`, 15_000);
    // etcd shows the key before the daemon prints its `added:` line: wait for that line too, so
    // the registration's own write is over before the watch starts.
    await p.waitForLine(new RegExp(`added: \\S+ ${escapeRe(`${HOST}:${c.name}:6379`)}`), 15_000);
    const mark = p.mark();
    // Exact: only writes under this test's prefix, whatever else uses the shared etcd.
    const watch = await file.e.etcd.watch(prefix);
    try {
      // Each resync reads the prefix once: wait for three more reads by this registrator.
      const reads0 = await registryReads(api);
      await waitFor(async () => (await registryReads(api)) >= reads0 + 3, { timeout: 30_000, message: "no resync reads seen" });
      expect(watch.open).toBe(true);
      expect(watch.events).toEqual([]);
    } finally {
      await watch.stop();
    }
    expect(p.lines.slice(mark).filter((l) => l.includes("added:"))).toEqual([]);
  });

  test("re-writes an entry deleted behind registrator's back", async () => {
    const prefix = `/resync2${process.pid}`;
    await reg(prefix, ["-resync", "1"]);
    const c = await container();
    const k = `${prefix}/busybox/${HOST}:${c.name}:6379`;
    await keyIs(file.e, k, `127.0.0.1:${c.port}`);
    await fetch(`${file.e.etcd.clientUrl}/v3/kv/deleterange`, { method: "POST", body: JSON.stringify({ key: btoa(k) }) });
    await keyIs(file.e, k, `127.0.0.1:${c.port}`, 15_000);
  });
});
