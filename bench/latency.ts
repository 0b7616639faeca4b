#!/usr/bin/env bun
// Latency, CPU and memory on the real engine and a real etcd, side by side with gliderlabs/registrator
// v7.4.0 ("G") in the same run: rounds alternate G and ours (the order rotates each round) on the same
// dockerd and etcd (started with --enable-v2). G writes etcd's v2 keys API, its only one; ours runs
// with `?api=v2` (the same wire work) and with its default v3, and optionally with a second registry
// (--also). Every figure is from a Docker event's timeNano (the engine's event stream, read here) to
// what a watch on etcd sees (the v3 watch stream, and the v2 keys API's streaming watch):
//
//   - spawn → first registration, one container already running: cold (the executable dropped from
//     the page cache first, as on a machine that has not run it since boot) and warm (run again);
//   - registration: `start` → key put, N containers started one after another;
//   - the same N exit by themselves one after another (`die`, no `kill`): `die` → key deleted;
//   - N more removed with `docker rm -f` one after another (kill, die, destroy): `kill` → deleted;
//   - N more exiting at once, and N more `rm -f` at once: per container, with the engine's own
//     delivery of each `die` (its timeNano → the event here) printed apart from registrator's part,
//     and the registrator's threads' time on a CPU and waiting for one during the exits at once;
//   - CPU seconds (/proc/<pid>/stat utime + stime) for that work, RSS and RssAnon 3 s after it.
// Next to them the floor: the bench itself, on each start event, inspects the container and puts
// its key (v3, and v2), on warm connections.
//
//   bun bench/latency.ts [--rounds 3] [--containers 30] [--spawns 2]
//                        [--ref <binary> | --no-ref] [--ours <binary>[,<binary>…]] [--runtime compiled|bun|deno]
//                        [--also <uri>] [--no-v2] [--no-v3] [--etcd-disk]
//
// --ref defaults to ../shared/anchors/registrator-v7.4.0 when present. --ours measures given
// executables (several: side by side, e.g. build variants) instead of a fresh build. --also adds a run of ours (v3) with a second registry URI
// after the first; "{etcd}" in it stands for this bench's etcd, e.g.
// --also 'etcd://{etcd}/also?api=v2'. Prints medians over the rounds, every round's value, ratios
// and the targets of issue 18; asserts nothing; removes what it started.
import { cpuSeconds, defaultReference, dropFromPageCache, jsonLines, loadavg, machine, median, mib, nowNs, options, percentile, printTable, schedMs, statusKib } from "./common.ts";
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { freshBinary } from "../build/fresh.ts";
import { sharedDockerd, type Dockerd } from "../test/support/docker.ts";
import { type Etcd, startEtcd } from "../test/support/etcd.ts";
import { freePort, type Proc, runTestRunEnd, tempDir, waitFor } from "../test/support/proc.ts";
import { REPO_ROOT, startRegistrator, type RegistratorRuntime } from "../test/support/registrator.ts";

const opt = options(Bun.argv.slice(2));
const ROUNDS = Number(opt.get("rounds", "3"));
const CONTAINERS = Number(opt.get("containers", "30"));
const SPAWNS = Number(opt.get("spawns", "2"));
const RUNTIME = opt.get("runtime", "compiled");
const REF = opt.has("no-ref") ? undefined : opt.get("ref", "") || defaultReference(REPO_ROOT);
const ALSO = opt.get("also", "");
const OURS = opt.get("ours", "");
/**
 * etcd's data dir on tmpfs unless --etcd-disk: on this machine kind's disk a WAL fsync now and then
 * takes over 100 ms (printed beside the bursts), which is etcd's disk, not registrator's tail.
 */
const ETCD_UNDER = opt.has("etcd-disk") || !existsSync("/dev/shm") ? undefined : "/dev/shm";
const PREFIX = "/bench";
const API = "/v1.41";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s?: string) => Buffer.from(s ?? "", "base64").toString();
/** The etcd range end that covers every key starting with prefix. */
const prefixEnd = (p: string) => {
  const b = Buffer.from(p);
  b[b.length - 1]!++;
  return b.toString("base64");
};
const ms = (a: bigint, b: bigint) => Number(a - b) / 1e6;

// ---- the engine's events ----------------------------------------------------------------------

/** Docker container events: per action, container ID → timeNano, and when start and die arrived here. */
function watchEvents(d: Dockerd, signal: AbortSignal) {
  const starts = new Map<string, { timeNano: bigint; arrived: bigint }>();
  const times = new Map<string, Map<string, bigint>>(); // action → id → timeNano
  for (const a of ["kill", "die", "destroy"]) times.set(a, new Map());
  /** die: when it arrived here. */
  const dieArrived = new Map<string, bigint>();
  const filters = encodeURIComponent(JSON.stringify({ type: ["container"], event: ["start", "kill", "die", "destroy"] }));
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  const handle = { starts, times, dieArrived, ready, onStart: undefined as ((id: string) => unknown) | undefined };
  (async () => {
    const res = await d.api(`${API}/events?filters=${filters}`, { signal, timeout: false } as RequestInit);
    if (!res.ok || !res.body) throw new Error(`Docker events: ${res.status}`);
    opened();
    for await (const e of jsonLines(res.body)) {
      const arrived = nowNs();
      const id: string = e.id ?? e.Actor?.ID;
      if (e.Action === "start") {
        starts.set(id, { timeNano: BigInt(e.timeNano), arrived });
        handle.onStart?.(id);
      } else {
        const m = times.get(e.Action);
        if (m && !m.has(id)) m.set(id, BigInt(e.timeNano));
        if (e.Action === "die" && !dieArrived.has(id)) dieArrived.set(id, arrived);
      }
    }
  })().catch((err) => {
    if (!signal.aborted) console.error(`events stream: ${err}`);
  });
  return handle;
}
type Events = ReturnType<typeof watchEvents>;

// ---- what etcd sees ---------------------------------------------------------------------------

/**
 * Writes under /bench/<tag>/ seen by an etcd watch, v3 and v2 alike, with their arrival here. Each
 * run (a subject's daemon, a spawn, the floor) writes under a tag of its own.
 */
class EtcdSeen {
  /** "<tag> <value>" → the latest PUT's arrival (host ports are reused across phases). */
  readonly seen = new Map<string, bigint>();
  /** "<tag> <value>" → the key it was put at. */
  readonly keyOf = new Map<string, string>();
  /** tag → the first PUT's arrival. */
  readonly firstPut = new Map<string, bigint>();
  /** key → the latest DELETE's arrival. */
  readonly deletes = new Map<string, bigint>();

  put(key: string, value: string, at: bigint): void {
    const tag = key.split("/")[2] ?? "";
    this.seen.set(`${tag} ${value}`, at);
    this.keyOf.set(`${tag} ${value}`, key);
    if (!this.firstPut.has(tag)) this.firstPut.set(tag, at);
  }

  delete(key: string, at: bigint): void {
    this.deletes.set(key, at);
  }

  /** Watches both of etcd's APIs under PREFIX; resolves once both watches are in place. */
  static async watch(clientUrl: string, signal: AbortSignal): Promise<EtcdSeen> {
    const out = new EtcdSeen();
    const report = (what: string) => (err: unknown) => {
      if (!signal.aborted) console.error(`etcd ${what} watch: ${err}`);
    };
    let v3Ready!: () => void;
    const v3 = new Promise<void>((r) => (v3Ready = r));
    void (async () => {
      const res = await fetch(`${clientUrl}/v3/watch`, {
        method: "POST",
        body: JSON.stringify({ create_request: { key: b64(`${PREFIX}/`), range_end: prefixEnd(`${PREFIX}/`) } }),
        signal,
        timeout: false, // Bun ends a quiet response after a while; a watch is quiet between phases
      } as RequestInit);
      if (!res.ok || !res.body) throw new Error(`${res.status}`);
      for await (const msg of jsonLines(res.body)) {
        const at = nowNs();
        if (msg.result?.created) v3Ready();
        for (const ev of msg.result?.events ?? []) {
          // PUT is the default and omitted from the JSON
          if (ev.type === "DELETE") out.delete(unb64(ev.kv?.key), at);
          else out.put(unb64(ev.kv?.key), unb64(ev.kv?.value), at);
        }
      }
    })().catch(report("v3"));
    // The v2 keys API streams every change under a directory with wait=true&stream=true; it
    // answers once the watch is registered, and then a JSON object per change.
    let v2Ready!: () => void;
    const v2 = new Promise<void>((r) => (v2Ready = r));
    void (async () => {
      const res = await fetch(`${clientUrl}/v2/keys${PREFIX}?wait=true&recursive=true&stream=true`, { signal, timeout: false } as RequestInit);
      if (!res.ok || !res.body) throw new Error(`${res.status}`);
      v2Ready();
      for await (const msg of jsonLines(res.body)) {
        const at = nowNs();
        const key: string = msg.node?.key ?? "";
        if (/delete|expire/i.test(msg.action)) out.delete(key, at);
        else if (msg.node?.value !== undefined) out.put(key, msg.node.value, at);
      }
    })().catch(report("v2"));
    await Promise.all([v3, v2]);
    return out;
  }
}

// ---- containers -------------------------------------------------------------------------------

async function createAndStart(d: Dockerd, hostPort: number, name: string): Promise<string> {
  const res = await d.api(`${API}/containers/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      Image: d.image,
      // httpd in the background; the shell waits on a FIFO, so the bench can make the container
      // exit by itself (a `die` with no `kill` before it) by writing to it.
      Cmd: ["sh", "-c", "mkfifo /tmp/exit && httpd -p 80 -h /www && read x < /tmp/exit"],
      Env: [`SERVICE_NAME=${name}`],
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { PortBindings: { "80/tcp": [{ HostPort: String(hostPort) }] } },
    }),
  });
  const body = (await res.json()) as { Id?: string; message?: string };
  if (!res.ok || !body.Id) throw new Error(`Cannot create a container: ${res.status} ${body.message}`);
  const start = await d.api(`${API}/containers/${body.Id}/start`, { method: "POST" });
  if (start.status !== 204) throw new Error(`Cannot start ${body.Id}: ${start.status} ${await start.text()}`);
  return body.Id;
}

/** Removes containers, untimed (between runs, so every run finds the engine alike). */
async function removeAll(d: Dockerd, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => d.api(`${API}/containers/${id}?force=1`, { method: "DELETE" }).then((r) => r.arrayBuffer())));
  ids.length = 0;
}

interface Started { id: string; value: string }
interface Phase { latencies: number[]; lost: string[]; started: Started[] }

/** Starts n containers one after another; for each, start event → its value seen under tag. */
async function phase(d: Dockerd, tag: string, label: string, n: number, events: Events, watch: EtcdSeen, ids: string[]): Promise<Phase> {
  const out: Phase = { latencies: [], lost: [], started: [] };
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const id = await createAndStart(d, port, `${label}-${i}`);
    ids.push(id);
    const value = `127.0.0.1:${port}`;
    out.started.push({ id, value });
    try {
      // A PUT of this value after this container's start (its host port may have served another).
      const k = `${tag} ${value}`;
      await waitFor(() => events.starts.has(id) && (watch.seen.get(k) ?? 0n) > events.starts.get(id)!.timeNano, {
        timeout: 10_000, interval: 1, message: `${label}-${i} in etcd`,
      });
      out.latencies.push(ms(watch.seen.get(k)!, events.starts.get(id)!.timeNano));
    } catch {
      out.lost.push(`${label}-${i}`);
    }
  }
  return out;
}

/** etcd's WAL fsync histogram (cumulative count per bucket bound, seconds), from its metrics. */
async function fsyncHistogram(etcd: Etcd): Promise<Map<number, number>> {
  const text = await (await fetch(`${etcd.metricsUrl}/metrics`)).text();
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^etcd_disk_wal_fsync_duration_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    out.set(m[1] === "+Inf" ? Infinity : Number(m[1]), Number(m[2]));
  }
  return out;
}

/**
 * The slowest WAL fsync etcd made between two histogram readings, as the bound of its bucket (ms):
 * the smallest bound under which every fsync of the window falls. NaN when there was none.
 */
function slowestFsyncMs(before: Map<number, number>, after: Map<number, number>): number {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const le = bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) === total)!;
  return le * 1000;
}

interface Removal {
  /** etcd's own slowest WAL fsync while these went (bucket bound, ms): the registry's part of a tail. */
  etcdFsyncMax?: number;
  fromDie: number[];
  fromKill: number[];
  /** The engine alone: die timeNano → the event here. */
  delivery: number[];
  /** Registrator alone, about: the die's arrival here → key gone. */
  fromArrival: number[];
  /** At once only: the subject's threads, summed, on a CPU and waiting for one meanwhile (ms). */
  onCpu?: number;
  waiting?: number;
  lost: string[];
}

/**
 * How containers go away: `exit` (the container's process ends by itself: `die`, no `kill`; the
 * bench writes to its FIFO with `docker exec`) or `rm -f` (the API's DELETE ?force=1: kill, die,
 * destroy). One after another, or all at once.
 */
async function removals(d: Dockerd, etcd: Etcd, tag: string, events: Events, watch: EtcdSeen, started: Started[], how: "exit" | "rm -f", atOnce: boolean, pid?: number): Promise<Removal> {
  const out: Removal = { fromDie: [], fromKill: [], delivery: [], fromArrival: [], lost: [] };
  const remove = async (id: string) => {
    if (how === "rm -f") {
      const res = await d.api(`${API}/containers/${id}?force=1`, { method: "DELETE" });
      if (res.status !== 204) throw new Error(`Cannot remove ${id}: ${res.status} ${await res.text()}`);
      return;
    }
    const post = (path: string, body: object) => d.api(`${API}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const created = await post(`/containers/${id}/exec`, { Cmd: ["sh", "-c", "echo > /tmp/exit"] });
    const exec = (await created.json()) as { Id?: string; message?: string };
    if (!exec.Id) throw new Error(`Cannot exec in ${id}: ${created.status} ${exec.message}`);
    const started = await post(`/exec/${exec.Id}/start`, { Detach: true });
    if (!started.ok) throw new Error(`Cannot start the exec in ${id}: ${started.status} ${await started.text()}`);
    await started.arrayBuffer();
  };
  const measure = async ({ id, value }: Started) => {
    const key = watch.keyOf.get(`${tag} ${value}`);
    try {
      if (!key) throw new Error("never registered");
      const kills = events.times.get("kill")!;
      const dies = events.times.get("die")!;
      await waitFor(() => watch.deletes.has(key) && dies.has(id) && events.dieArrived.has(id) && (how === "exit" || kills.has(id)), {
        timeout: 10_000, interval: 1, message: `${value} out of etcd`,
      });
      const gone = watch.deletes.get(key)!;
      out.fromDie.push(ms(gone, dies.get(id)!));
      if (kills.has(id)) out.fromKill.push(ms(gone, kills.get(id)!));
      out.delivery.push(ms(events.dieArrived.get(id)!, dies.get(id)!));
      out.fromArrival.push(ms(gone, events.dieArrived.get(id)!));
    } catch {
      out.lost.push(value);
    }
  };
  if (atOnce) {
    const before = await fsyncHistogram(etcd);
    const sched0 = pid === undefined ? undefined : schedMs(pid);
    await Promise.all(started.map((s) => remove(s.id)));
    await Promise.all(started.map(measure));
    if (sched0) {
      const sched1 = schedMs(pid!);
      out.onCpu = sched1.onCpu - sched0.onCpu;
      out.waiting = sched1.waiting - sched0.waiting;
    }
    out.etcdFsyncMax = slowestFsyncMs(before, await fsyncHistogram(etcd));
  } else {
    for (const s of started) {
      await Bun.sleep(100); // idle between events, as between real removals
      await remove(s.id);
      await measure(s);
    }
  }
  return out;
}

// ---- the subjects -----------------------------------------------------------------------------

interface Subject {
  /** Column name. */
  name: string;
  /** Short, for tags. */
  id: string;
  runtime: RegistratorRuntime;
  /** The executable to drop from the page cache for a cold start (compiled ones only). */
  file?: string;
  args(etcd: Etcd, tag: string, http: number): string[];
  env?: Record<string, string>;
}

function subjects(oursList: RegistratorRuntime[], ref: string | undefined): Subject[] {
  const mine = (ours: RegistratorRuntime, id: string, name: string, query: string, also?: string): Subject => ({
    name, id, runtime: ours, file: typeof ours === "string" ? undefined : ours.binary,
    args: (etcd, tag, http) => [
      "-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, `etcd://${etcd.endpoint}${PREFIX}/${tag}${query}`,
      ...(also ? [also.replaceAll("{etcd}", etcd.endpoint).replaceAll("{tag}", tag)] : []),
    ],
  });
  const out: Subject[] = [];
  if (ref) {
    out.push({
      name: "G (v2)", id: "g", runtime: { binary: ref }, file: ref,
      // Its only registry API is v2; it has no HTTP server.
      args: (etcd, tag) => ["-ip", "127.0.0.1", `etcd://${etcd.endpoint}${PREFIX}/${tag}`],
      env: { GL_DISABLE_VERSION_CHECK: "1" },
    });
  }
  oursList.forEach((ours, i) => {
    // Several executables (--ours a,b): side by side, named after their files.
    const suffix = oursList.length > 1 && typeof ours !== "string" ? ` ${basename(ours.binary)}` : "";
    if (!opt.has("no-v2")) out.push(mine(ours, `v2-${i}`, `ours v2${suffix}`, "?api=v2"));
    if (!opt.has("no-v3")) out.push(mine(ours, `v3-${i}`, `ours v3${suffix}`, ""));
    if (ALSO) out.push(mine(ours, `also-${i}`, `ours v3 + --also${suffix}`, "", ALSO));
  });
  return out;
}

function launch(s: Subject, d: Dockerd, etcd: Etcd, tag: string, http: number): Promise<Proc> {
  return startRegistrator(s.args(etcd, tag, http), { dockerHost: d.host, runtime: s.runtime, env: { HOME: tempDir("regbench-home-"), ...s.env } });
}

/** One subject's figures in one round. */
interface Run {
  spawnCold: number[];
  spawnWarm: number[];
  /** What stayed of the executable in the page cache after each drop, bytes. */
  coldResident: number[];
  reg: number[];
  exit: Removal;
  rmf: Removal;
  burst: Removal;
  burstRm: Removal;
  cpuWork: number;
  cpuTotal: number;
  rss: number;
  anon: number;
  file: number;
  lost: string[];
}

/** Spawn → first key under a fresh tag, with the spawnee running; cold and warm alternately. */
async function spawns(s: Subject, d: Dockerd, etcd: Etcd, watch: EtcdSeen, round: number, run: Run): Promise<void> {
  for (let k = 0; k < SPAWNS * 2; k++) {
    const cold = k % 2 === 0;
    if (cold && !s.file) continue; // nothing to drop when not an executable
    const tag = `${s.id}-s${round}-${k}`;
    const http = await freePort();
    if (cold) run.coldResident.push(dropFromPageCache(s.file!).residentAfter ?? NaN);
    // The previous subject's removed containers leave dirty pages (vfs copies) whose writeback
    // would otherwise compete with whichever subject spawns next.
    Bun.spawnSync(["sync"]);
    const t0 = nowNs();
    const reg = await launch(s, d, etcd, tag, http);
    try {
      const at = await waitFor(() => watch.firstPut.get(tag), { timeout: 30_000, interval: 1, message: `${s.name}: spawn ${k}: first registration` });
      (cold ? run.spawnCold : run.spawnWarm).push(ms(at, t0));
    } catch (err) {
      console.error(`${s.name} log tail:\n${reg.tail(30)}`);
      throw err;
    } finally {
      await reg.stop();
    }
  }
}

async function runSubject(s: Subject, d: Dockerd, etcd: Etcd, events: Events, watch: EtcdSeen, spawnee: Started, round: number): Promise<Run> {
  const run = { spawnCold: [], spawnWarm: [], coldResident: [], lost: [] } as unknown as Run;
  await spawns(s, d, etcd, watch, round, run);
  const tag = `${s.id}-d${round}`;
  const ids: string[] = [];
  const proc = await launch(s, d, etcd, tag, await freePort());
  try {
    // Up once it registered the container that was already running.
    await waitFor(() => watch.seen.has(`${tag} ${spawnee.value}`), { timeout: 30_000, interval: 1, message: `${s.name}: the running container in etcd` });
    const cpu0 = cpuSeconds(proc.pid);
    const one = await phase(d, tag, "bench", CONTAINERS, events, watch, ids);
    run.exit = await removals(d, etcd, tag, events, watch, one.started, "exit", false);
    const forced = await phase(d, tag, "forced", CONTAINERS, events, watch, ids);
    run.rmf = await removals(d, etcd, tag, events, watch, forced.started, "rm -f", false);
    const burst = await phase(d, tag, "burst", CONTAINERS, events, watch, ids);
    run.burst = await removals(d, etcd, tag, events, watch, burst.started, "exit", true, proc.pid);
    const burstRm = await phase(d, tag, "burstrm", CONTAINERS, events, watch, ids);
    run.burstRm = await removals(d, etcd, tag, events, watch, burstRm.started, "rm -f", true);
    run.cpuWork = cpuSeconds(proc.pid) - cpu0;
    run.reg = [...one.latencies, ...forced.latencies, ...burst.latencies, ...burstRm.latencies];
    await Bun.sleep(3000);
    run.cpuTotal = cpuSeconds(proc.pid);
    run.rss = statusKib(proc.pid, "VmRSS");
    run.anon = statusKib(proc.pid, "RssAnon");
    run.file = statusKib(proc.pid, "RssFile");
    run.lost = [
      ...[one, forced, burst, burstRm].flatMap((p) => p.lost),
      ...[run.exit, run.rmf, run.burst, run.burstRm].flatMap((r) => r.lost.map((v) => `${v} (removal)`)),
    ];
  } catch (err) {
    console.error(`${s.name} log tail:\n${proc.tail(30)}`);
    throw err;
  } finally {
    await proc.stop();
    await removeAll(d, ids);
  }
  return run;
}

// ---- the floor --------------------------------------------------------------------------------

/** What a registrator must do per container: inspect it, put its key (v3 or v2). */
async function inspectAndPut(d: Dockerd, etcd: Etcd, api: "v2" | "v3", id: string, key: string): Promise<void> {
  const info = (await (await d.api(`${API}/containers/${id}/json`)).json()) as { NetworkSettings: { Ports: Record<string, Array<{ HostPort: string }> | null> } };
  const value = `127.0.0.1:${info.NetworkSettings.Ports["80/tcp"]?.[0]?.HostPort ?? "0"}`;
  const res = api === "v3"
    ? await fetch(`${etcd.clientUrl}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(key), value: b64(value) }) })
    : await fetch(`${etcd.clientUrl}/v2/keys${key}`, { method: "PUT", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `value=${value}` });
  if (!res.ok) throw new Error(`etcd ${api} put: ${res.status}`);
  await res.arrayBuffer();
}

/** The bench as an ideal registrator: on each start event, inspect + put, nothing else. */
async function floor(d: Dockerd, etcd: Etcd, api: "v2" | "v3", events: Events, watch: EtcdSeen, round: number): Promise<number[]> {
  const tag = `floor-${api}-${round}`;
  const ids: string[] = [];
  events.onStart = (id) => void inspectAndPut(d, etcd, api, id, `${PREFIX}/${tag}/${id.slice(0, 12)}`).catch((e) => console.error(`floor: ${e}`));
  try {
    return (await phase(d, tag, "floor", CONTAINERS, events, watch, ids)).latencies;
  } finally {
    events.onStart = undefined;
    await removeAll(d, ids);
  }
}

// ---- report -----------------------------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const fms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : "–");
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);

/** The figures of the table: name, unit formatter, value of one run. */
const FIGURES: Array<[string, (x: number) => string, (r: Run) => number]> = [
  ["spawn → first registration, cold, p50", fms, (r) => median(r.spawnCold)],
  ["spawn → first registration, warm, p50", fms, (r) => median(r.spawnWarm)],
  ["registration: start → key, p50", fms, (r) => percentile(r.reg, 50)],
  ["registration p95", fms, (r) => percentile(r.reg, 95)],
  ["registration max", fms, (r) => max(r.reg)],
  ["exit, one by one: die → gone, p50", fms, (r) => percentile(r.exit.fromDie, 50)],
  ["exit, one by one: die → gone, p95", fms, (r) => percentile(r.exit.fromDie, 95)],
  ["rm -f, one by one: kill → gone, p50", fms, (r) => percentile(r.rmf.fromKill, 50)],
  ["rm -f, one by one: die → gone, p50", fms, (r) => percentile(r.rmf.fromDie, 50)],
  [`${CONTAINERS} exits at once: die → gone, p50`, fms, (r) => percentile(r.burst.fromDie, 50)],
  [`${CONTAINERS} exits at once: die → gone, max`, fms, (r) => max(r.burst.fromDie)],
  ["  engine alone: die → event here, max", fms, (r) => max(r.burst.delivery)],
  ["  registrator: event here → gone, max", fms, (r) => max(r.burst.fromArrival)],
  // Where such a tail comes from: the registrator's own work, or a CPU it waited for while the
  // engine tore 30 containers down (every thread's run-queue wait, summed, over the whole burst).
  ["  registrator's threads on a CPU meanwhile", fms, (r) => r.burst.onCpu ?? NaN],
  ["  registrator's threads waiting for a CPU", fms, (r) => r.burst.waiting ?? NaN],
  ["  etcd alone: slowest WAL fsync meanwhile, ≤", fms, (r) => r.burst.etcdFsyncMax ?? NaN],
  [`${CONTAINERS} rm -f at once: kill → gone, p50`, fms, (r) => percentile(r.burstRm.fromKill, 50)],
  [`${CONTAINERS} rm -f at once: kill → gone, max`, fms, (r) => max(r.burstRm.fromKill)],
  ["CPU seconds for the work", (x) => `${x.toFixed(2)} s`, (r) => r.cpuWork],
  ["CPU seconds since spawn", (x) => `${x.toFixed(2)} s`, (r) => r.cpuTotal],
  ["RSS 3 s after the work", mib, (r) => r.rss],
  ["  of it RssAnon", mib, (r) => r.anon],
  ["  of it RssFile", mib, (r) => r.file],
];

async function main(): Promise<void> {
  const oursList: RegistratorRuntime[] = OURS
    ? OURS.split(",").map((binary) => ({ binary }))
    : [RUNTIME === "bun" || RUNTIME === "deno" ? RUNTIME : { binary: await freshBinary(tempDir("regbench-latency-")) }];
  const subs = subjects(oursList, REF);
  const d = await sharedDockerd();
  const etcd = await startEtcd({ name: "bench", v2: true, under: ETCD_UNDER });
  const abort = new AbortController();
  const load0 = loadavg();
  const loads: string[] = [];
  const runs = new Map<string, Run[]>(subs.map((s) => [s.name, []]));
  const floors = { v2: [] as number[][], v3: [] as number[][] };
  const ids: string[] = [];
  try {
    const events = watchEvents(d, abort.signal);
    const watch = await EtcdSeen.watch(etcd.clientUrl, abort.signal);
    await events.ready;
    const port = await freePort();
    const spawnee = { id: await createAndStart(d, port, "spawnee"), value: `127.0.0.1:${port}` };
    ids.push(spawnee.id);
    // Warm up the engine, etcd and the bench's own connections (not measured).
    await floor(d, etcd, "v3", events, watch, 0);
    await floor(d, etcd, "v2", events, watch, 0);
    for (let round = 1; round <= ROUNDS; round++) {
      // The order rotates, so no subject always runs first or after the same one.
      const order = subs.map((_, i) => subs[(i + round - 1) % subs.length]!);
      for (const s of order) {
        process.stderr.write(`round ${round}: ${s.name} (load ${loadavg()})\n`);
        runs.get(s.name)!.push(await runSubject(s, d, etcd, events, watch, spawnee, round));
      }
      floors.v3.push(await floor(d, etcd, "v3", events, watch, round));
      floors.v2.push(await floor(d, etcd, "v2", events, watch, round));
      loads.push(loadavg());
    }
  } finally {
    abort.abort();
    await removeAll(d, ids).catch((e: Error) => console.error(e.message));
    await etcd.stop();
  }

  // ---- print ----
  const who = oursList.map((o) => (typeof o === "string" ? `${o} src/cli.ts` : `compiled ${o.binary}`)).join(", ");
  console.log(`\nregistrator latency, CPU and memory — ${machine()}; load average ${load0} at start, after each round: ${loads.join(" | ")}`);
  console.log(`ours: ${who}; G: ${REF ?? "(none: --no-ref or not found)"}; etcd 3.4 (--enable-v2) ${etcd.endpoint}, data in ${ETCD_UNDER ? `${ETCD_UNDER} (tmpfs; --etcd-disk: on disk)` : "the temp dir (disk)"}; engine ${d.host}`);
  console.log(`${ROUNDS} rounds, order rotating; ${CONTAINERS} containers per phase; ${SPAWNS} cold + ${SPAWNS} warm spawns per subject and round`);
  const coldLeft = [...runs.values()].flat().flatMap((r) => r.coldResident).filter(Number.isFinite);
  console.log("cold start: the executable dropped from the page cache first (posix_fadvise DONTNEED, via dd oflag=nocache count=0); " +
    `resident after the drop: ${coldLeft.length ? `${(Math.max(...coldLeft) / 1048576).toFixed(1)} MiB at most` : "unknown (no fincore)"}\n`);

  const names = subs.map((s) => s.name);
  const g = REF ? names[0] : undefined;
  const value = (name: string, fig: (r: Run) => number) => median(runs.get(name)!.map(fig).filter(Number.isFinite));
  const header = ["median of the rounds", ...names, ...(g ? names.slice(1).map((n) => `${n.replace("ours ", "")}/G`) : [])];
  const rows: string[][] = [header];
  for (const [label, fmt, fig] of FIGURES) {
    const vals = names.map((n) => value(n, fig));
    const ratios = g ? vals.slice(1).map((v) => (Number.isFinite(v / vals[0]!) ? `${(v / vals[0]!).toFixed(2)}×` : "–")) : [];
    rows.push([label, ...vals.map(fmt), ...ratios]);
  }
  printTable(rows);

  console.log("\nevery round (r1 / r2 / …):");
  const every: string[][] = [["", ...names]];
  for (const [label, fmt, fig] of FIGURES) every.push([label, ...names.map((n) => runs.get(n)!.map((r) => (fmt === mib ? (fig(r) / 1024).toFixed(1) : f1(fig(r)))).join(" / "))]);
  printTable(every);

  const fv3 = floors.v3.map((xs) => percentile(xs, 50));
  const fv2 = floors.v2.map((xs) => percentile(xs, 50));
  const fv3p95 = floors.v3.map((xs) => percentile(xs, 95));
  console.log("\nfloor: the bench itself on each start event inspects the container and puts its key, warm connections");
  printTable([
    ["", "p50 per round", "p95 per round", "median p50"],
    ["floor v3 (etcd's v3 JSON gateway)", fv3.map(f1).join(" / "), fv3p95.map(f1).join(" / "), fms(median(fv3))],
    ["floor v2 (keys API)", fv2.map(f1).join(" / "), floors.v2.map((xs) => f1(percentile(xs, 95))).join(" / "), fms(median(fv2))],
  ]);
  console.log(`v3 gateway cost over v2, per registration: ${fms(median(fv3) - median(fv2))}`);
  const reg50 = (n: string) => value(n, (r) => percentile(r.reg, 50));
  for (const n of names.filter((n) => n.startsWith("ours v3"))) console.log(`${n} over the v3 floor: p50 +${fms(reg50(n) - median(fv3))}`);
  for (const n of names.filter((n) => n.startsWith("ours v2"))) console.log(`${n} over the v2 floor: p50 +${fms(reg50(n) - median(fv2))}`);

  // ---- issue 18's targets ----
  const lost = [...runs].flatMap(([n, rs]) => rs.flatMap((r, i) => r.lost.map((l) => `${n} r${i + 1}: ${l}`)));
  if (lost.length) console.log(`\nnot seen within 10 s: ${lost.join(", ")}`);
  if (!g) return;
  const targets: Array<[string, string, boolean]> = [];
  const G = (fig: (r: Run) => number) => value(g, fig);
  const p = (q: number) => (r: Run) => percentile(r.reg, q);
  for (const n of names.slice(1)) {
    const against = n.startsWith("ours v2") ? "" : " (other API)";
    targets.push([`${n}: registration p50 / p95 ≤ G's${against}`, `${fms(value(n, p(50)))} / ${fms(value(n, p(95)))} vs ${fms(G(p(50)))} / ${fms(G(p(95)))}`, value(n, p(50)) <= G(p(50)) && value(n, p(95)) <= G(p(95))]);
    targets.push([`${n}: registration max ≤ 2× G's`, `${fms(value(n, (r) => max(r.reg)))} vs ${fms(G((r) => max(r.reg)))}`, value(n, (r) => max(r.reg)) <= 2 * G((r) => max(r.reg))]);
    for (const kind of ["cold", "warm"] as const) {
      const fig = (r: Run) => median(kind === "cold" ? r.spawnCold : r.spawnWarm);
      targets.push([`${n}: spawn → first registration (${kind}) ≤ 2× G's`, `${fms(value(n, fig))} vs ${fms(G(fig))}`, value(n, fig) <= 2 * G(fig)]);
    }
    targets.push([`${n}: CPU for the work ≤ G's`, `${value(n, (r) => r.cpuWork).toFixed(2)} vs ${G((r) => r.cpuWork).toFixed(2)} s`, value(n, (r) => r.cpuWork) <= G((r) => r.cpuWork)]);
    targets.push([`${n}: RSS after the work ≤ 30 MiB`, mib(value(n, (r) => r.rss)), value(n, (r) => r.rss) <= 30 * 1024]);
    targets.push([`${n}: RssAnon ≤ G's + 2 MiB`, `${mib(value(n, (r) => r.anon))} vs ${mib(G((r) => r.anon))}`, value(n, (r) => r.anon) <= G((r) => r.anon) + 2048]);
    const bursts = runs.get(n)!.map((r) => max(r.burst.fromDie));
    targets.push([`${n}: ${CONTAINERS} exits at once, max ≤ 100 ms every round`, bursts.map(fms).join(" / "), bursts.every((x) => x <= 100)]);
  }
  for (const n of names.filter((n) => n.startsWith("ours v3"))) {
    const over = reg50(n) - median(fv3);
    targets.push([`${n}: registration p50 within 1 ms of the v3 floor`, `+${fms(over)}`, over <= 1]);
  }
  console.log("\ntargets (issue 18):");
  printTable(targets.map(([a, b, ok]) => [a, b, ok ? "met" : "NOT met"]));
}

try {
  await main();
} finally {
  await runTestRunEnd(); // the private dockerd and temp dirs
}
