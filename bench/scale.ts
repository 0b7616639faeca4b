#!/usr/bin/env bun
// Scale: registrator against an EMULATED Docker Engine API (bench/engine.ts, a simulation: no
// container runs, the engine answers instantly) holding N running containers, for N = 100, 1,000
// and 10,000 by default. Per N, a fresh registrator (compiled executable by default):
//   - spawn → all N registered (embedded registry: its /metrics gauge; etcd: an etcd watch), and
//     the CPU time it took;
//   - with N registered, one more container start, and its stop (`docker stop`: kill, die, stop),
//     p50 / p95 over --probes, twice: first to the daemon's own `registered` / `deregistered`
//     event on its /v1/events stream, with nothing else reading (the daemon's own work), then to
//     what a client of the registry sees (a blocking query on the probes' own service name in the
//     embedded registry's catalog, or an etcd watch), from `die` and from the `kill` before it;
//   - RSS once all are registered, and per registered service above the N = 0 run;
// plus one pure derivation of a container with 2,000 ports × 2,000 labels.
//
//   bun bench/scale.ts [--sizes 100,1000,10000] [--probes 30] [--registry local|etcd] [--runtime compiled|bun]
//                      [--registries 1|2|both] [--second etcd|local]
//
// --registries 2 adds a second registry beside --registry, written by its own writer from the same
// containers: "all registered" then means in both. --second says which: etcd (default; a real
// server with its own CPU and network round trips, beside local://) or local (a second embedded
// registry, `local://second`: registrator's own cost of a second writer, nothing else). Beside
// --registry etcd the second is always local://.
// `both` runs every size with one and with two registries, alternately, and prints them side by
// side with the ratio (issue 16: two registries stay within 1.2× of one).
//
// Prints figures, targets and met / NOT met; asserts nothing; stops what it started.
import { jsonLines, loadavg, percentile } from "./common.ts";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { freshBinary } from "../build.ts";
import type { ContainerInspect } from "../src/docker/schema.ts";
import { deriveServices } from "../src/services/derive.ts";
import { startEtcd, type Etcd } from "../test/support/etcd.ts";
import { freePort, type Proc, runTestRunEnd, tempDir, waitFor } from "../test/support/proc.ts";
import { startRegistrator, type RegistratorRuntime } from "../test/support/registrator.ts";
import { type Engine, nowNs, startEngine } from "./engine.ts";

const argv = Bun.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const SIZES = opt("sizes", "100,1000,10000").split(",").map(Number);
const PROBES = Number(opt("probes", "30"));
const REGISTRY = opt("registry", "local");
const RUNTIME = opt("runtime", "compiled");
const SPAWN_TIMEOUT_MS = Number(opt("spawn-timeout", "300")) * 1000;
const PREFIX = "/scale";
const CLK_TCK = 100;
const SETTLE_MS = 2000;
const REGISTRIES = opt("registries", "1");
const SECOND = REGISTRY === "etcd" ? "local" : opt("second", "etcd");
if (SECOND !== "etcd" && SECOND !== "local") throw new Error(`Invalid --second "${SECOND}": expected etcd or local`);
/** The second registry's URI when it is embedded (a URI other than the first's "local://"). */
const SECOND_LOCAL = REGISTRY === "etcd" ? "local://" : "local://second";
if (!["1", "2", "both"].includes(REGISTRIES)) throw new Error(`Invalid --registries "${REGISTRIES}": expected 1, 2 or both`);

if (REGISTRY !== "local" && REGISTRY !== "etcd") throw new Error(`Invalid --registry "${REGISTRY}": expected local or etcd`);



function status(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : NaN;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}


/** What the registry holds, as seen from outside: entry id → when it appeared / disappeared. */
interface Observer {
  count(): number;
  /** No more counting (the count is for spawn → all registered only). */
  stopCounting(): void;
  present: Map<string, bigint>;
  gone: Map<string, bigint>;
  /** Starts following changes of the probe entries (after the initial registration). */
  followProbes(): Promise<void>;
}

/** What the daemon says it did: its own /v1/events stream (any backend), service ID → arrival. */
async function followEvents(http: number, signal: AbortSignal): Promise<{ registered: Map<string, bigint>; deregistered: Map<string, bigint> }> {
  const said = { registered: new Map<string, bigint>(), deregistered: new Map<string, bigint>() };
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  // Server-sent events: "event: registered\ndata: {…"service":{"id":…}}" blocks.
  (async () => {
    const res = await fetch(`http://127.0.0.1:${http}/v1/events`, { signal });
    if (!res.ok || !res.body) throw new Error(`/v1/events: ${res.status}`);
    opened();
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const at = nowNs();
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = /^event: (\S+)/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if ((ev === "registered" || ev === "deregistered") && data) {
          const id = (JSON.parse(data) as { service?: { id?: string } }).service?.id;
          if (id && !said[ev].has(id)) said[ev].set(id, at);
        }
      }
    }
  })().catch((e) => {
    if (!signal.aborted) console.error(`event stream: ${e}`);
  });
  await ready;
  return said;
}

/**
 * The fewest services any registry holds, by the daemon's own /metrics gauge (one line per
 * registry): with two registries, "all registered" is in both.
 */
function countInEvery(http: number, signal: AbortSignal): { count(): number; stop(): void } {
  let fewest = 0;
  let on = true;
  (async () => {
    while (!signal.aborted && on) {
      try {
        const text = await (await fetch(`http://127.0.0.1:${http}/metrics`, { signal })).text();
        const counts = [...text.matchAll(/^registrator_services_registered(?:\{[^}]*\})? (\d+)/gm)].map((m) => Number(m[1]));
        if (counts.length) fewest = Math.min(...counts);
      } catch {}
      await Bun.sleep(10);
    }
  })();
  return { count: () => fewest, stop: () => void (on = false) };
}

/** Embedded registry: the count from /metrics, probes by a blocking query on their service. */
function observeLocal(http: number, signal: AbortSignal): Observer {
  const base = `http://127.0.0.1:${http}`;
  const present = new Map<string, bigint>();
  const gone = new Map<string, bigint>();
  let registered = 0;
  let counting = true;
  (async () => {
    while (!signal.aborted && counting) {
      try {
        const text = await (await fetch(`${base}/metrics`, { signal })).text();
        const m = /^registrator_services_registered(?:\{[^}]*\})? (\d+)/m.exec(text);
        if (m) registered = Number(m[1]);
      } catch {}
      await Bun.sleep(10);
    }
  })();
  return {
    count: () => registered,
    stopCounting: () => void (counting = false),
    present,
    gone,
    async followProbes() {
      let opened!: () => void;
      const ready = new Promise<void>((r) => (opened = r));
      (async () => {
        let index = "0";
        let seen = new Set<string>();
        while (!signal.aborted) {
          const res = await fetch(`${base}/v1/catalog/service/probe?index=${index}&wait=60s`, { signal });
          const entries = (await res.json()) as Array<{ ServiceID: string }>;
          const at = nowNs();
          index = res.headers.get("X-Consul-Index") ?? index;
          const now = new Set(entries.map((e) => e.ServiceID));
          for (const id of now) if (!seen.has(id)) present.set(id, at);
          for (const id of seen) if (!now.has(id)) gone.set(id, at);
          seen = now;
          opened();
        }
      })().catch((e) => {
        if (!signal.aborted) console.error(`catalog watch: ${e}`);
      });
      await ready;
    },
  };
}

/** etcd: one watch on the prefix; PUT → present, DELETE → gone, keyed by the etcd key. */
function observeEtcd(etcd: Etcd, signal: AbortSignal): Observer & { ready: Promise<void> } {
  const present = new Map<string, bigint>();
  const gone = new Map<string, bigint>();
  const keys = new Set<string>();
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const end = Buffer.from(`${PREFIX}/`);
  end[end.length - 1]!++;
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  (async () => {
    const res = await fetch(`${etcd.clientUrl}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: { key: b64(`${PREFIX}/`), range_end: end.toString("base64") } }),
      signal,
    });
    if (!res.ok || !res.body) throw new Error(`etcd watch: ${res.status}`);
    for await (const msg of jsonLines(res.body)) {
      const at = nowNs();
      if (msg.result?.created) opened();
      for (const ev of msg.result?.events ?? []) {
        const key = Buffer.from(ev.kv?.key ?? "", "base64").toString();
        if (ev.type === "DELETE") {
          keys.delete(key);
          if (!gone.has(key)) gone.set(key, at);
        } else {
          keys.add(key);
          if (!present.has(key)) present.set(key, at);
        }
      }
    }
  })().catch((e) => {
    if (!signal.aborted) console.error(`etcd watch: ${e}`);
  });
  return { count: () => keys.size, stopCounting: () => {}, present, gone, ready, followProbes: async () => {} };
}

const find = (m: Map<string, bigint>, probe: string) => {
  for (const [k, v] of m) if (k.includes(`:${probe}:`)) return v;
  return undefined;
};

interface Round {
  n: number;
  spawnMs: number;
  spawnCpu: number;
  start: number[];
  /** The same, to the daemon's `registered` event (its own work, no catalog read). */
  startSaid: number[];
  stopSaid: number[];
  stopFromDie: number[];
  stopFromKill: number[];
  eventCpuMs: number;
  rssKb: number;
  hwmKb: number;
  lost: string[];
}

async function round(n: number, runtime: RegistratorRuntime, registries: 1 | 2): Promise<Round> {
  const engine: Engine = startEngine(join(tempDir("regbench-engine-"), "docker.sock"));
  // The second registry is the other kind: etcd beside local://, local:// beside etcd.
  const etcd = REGISTRY === "etcd" || (registries === 2 && SECOND === "etcd") ? await startEtcd({ name: `scale-${n}` }) : undefined;
  const abort = new AbortController();
  let reg: Proc | undefined;
  try {
    for (let i = 0; i < n; i++) {
      engine.add({ name: `bg-${i}`, ports: { 80: 20000 + (i % 40000) }, env: [`SERVICE_NAME=bg-${i % 100}`, `SERVICE_TAGS=scale,n${i % 7}`] });
    }
    const http = await freePort();
    const etcdUri = `etcd://${etcd?.endpoint}${PREFIX}`;
    const uris = REGISTRY === "etcd" ? [etcdUri] : ["local://"];
    if (registries === 2) uris.push(SECOND === "etcd" ? etcdUri : SECOND_LOCAL);
    let observer: Observer;
    if (REGISTRY === "etcd") {
      const o = observeEtcd(etcd!, abort.signal);
      await o.ready;
      observer = o;
    } else {
      observer = observeLocal(http, abort.signal);
    }
    const t0 = performance.now();
    const every = registries === 2 ? countInEvery(http, abort.signal) : undefined;
    reg = await startRegistrator(["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, ...uris], {
      dockerHost: engine.host, runtime, env: { HOME: tempDir("regbench-home-") },
    });
    const pid = reg.pid;
    if (n === 0) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 30_000, interval: 10, message: "registrator /ready" });
    } else {
      const count = () => Math.min(observer.count(), every?.count() ?? Infinity);
      await waitFor(() => count() >= n, { timeout: SPAWN_TIMEOUT_MS, interval: 5, message: `${n} services registered` });
    }
    const spawnMs = performance.now() - t0;
    const spawnCpu = cpuSeconds(pid);
    observer.stopCounting();
    every?.stop();

    const out: Round = { n, spawnMs, spawnCpu, start: [], startSaid: [], stopSaid: [], stopFromDie: [], stopFromKill: [], eventCpuMs: NaN, rssKb: 0, hwmKb: 0, lost: [] };
    /** count probe containers, one at a time: start, wait for onStart, stop, wait for onStop, remove. */
    const probes = async (
      label: string,
      count: number,
      onStart: (name: string, timeNano: bigint) => Promise<void>,
      onStop: (name: string, t: { kill: bigint; die: bigint }) => Promise<void>,
    ) => {
      for (let k = 0; k < count; k++) {
        const name = `probe-${label}-${k}`;
        await Bun.sleep(20); // idle between events, as between real container starts
        const { id, timeNano } = engine.start({ name, ports: { 80: 61000 + k }, env: ["SERVICE_NAME=probe"] });
        try {
          await onStart(name, timeNano);
        } catch {
          out.lost.push(`${name} start`);
          engine.remove(id);
          continue;
        }
        await Bun.sleep(20);
        const t = engine.stop(id);
        try {
          await onStop(name, t);
        } catch {
          out.lost.push(`${name} stop`);
        }
        engine.remove(id);
      }
    };
    // Pass 1, the daemon's own work: only its /v1/events stream is read (no catalog reply built).
    const said = await followEvents(http, abort.signal);
    const cpu0 = cpuSeconds(pid);
    await probes("own", PROBES, async (name, timeNano) => {
      const at = await waitFor(() => find(said.registered, name), { timeout: 30_000, interval: 1, message: `${name} registered` });
      out.startSaid.push(Number(at - timeNano) / 1e6);
    }, async (name, t) => {
      const at = await waitFor(() => find(said.deregistered, name), { timeout: 30_000, interval: 1, message: `${name} deregistered` });
      out.stopSaid.push(Number(at - t.die) / 1e6);
    });
    out.eventCpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / Math.max(1, out.startSaid.length + out.stopSaid.length);
    // Pass 2, what a client of the registry sees: the catalog (blocking queries) or etcd's watch.
    await observer.followProbes();
    await probes("seen", PROBES, async (name, timeNano) => {
      const seen = await waitFor(() => find(observer.present, name), { timeout: 30_000, interval: 1, message: `${name} registered` });
      out.start.push(Number(seen - timeNano) / 1e6);
    }, async (name, t) => {
      const gone = await waitFor(() => find(observer.gone, name), { timeout: 30_000, interval: 1, message: `${name} deregistered` });
      out.stopFromDie.push(Number(gone - t.die) / 1e6);
      out.stopFromKill.push(Number(gone - t.kill) / 1e6);
    });
    await Bun.sleep(SETTLE_MS); // RSS once settled (same wait at every N, idle included)
    out.rssKb = status(pid, "VmRSS");
    out.hwmKb = status(pid, "VmHWM");
    return out;
  } catch (err) {
    if (reg) console.error(`registrator log tail:\n${reg.tail(30)}`);
    throw err;
  } finally {
    abort.abort();
    await reg?.stop();
    await engine.close();
    await etcd?.stop();
  }
}

/** The rounds of one setting (one or two registries), N = 0 first. */
type Rounds = Round[];

/** One container with `ports` published ports and as many SERVICE_<port>_NAME labels. */
function bigContainer(ports: number): ContainerInspect {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  const labels: Record<string, string> = {};
  for (let i = 0; i < ports; i++) {
    const p = 10000 + i;
    exposed[`${p}/tcp`] = {};
    bindings[`${p}/tcp`] = [{ HostIp: "0.0.0.0", HostPort: String(30000 + i) }];
    labels[`SERVICE_${p}_NAME`] = `svc-${p}`;
  }
  return {
    Id: "f".repeat(64),
    Name: "/big",
    Image: "sha256:" + "e".repeat(64),
    Config: { Hostname: "big", Image: "bench/big:latest", Env: ["SERVICE_TAGS=a,b"], Labels: labels, ExposedPorts: exposed },
    State: { Status: "running", Running: true, ExitCode: 0 },
    HostConfig: { NetworkMode: "bridge" },
    NetworkSettings: { IPAddress: "172.17.0.2", Ports: bindings, Networks: { bridge: { IPAddress: "172.17.0.2", NetworkID: "n" } } },
  } as ContainerInspect;
}

function deriveBench(ports: number): { ms: number; services: number } {
  const c = bigContainer(ports);
  const opts = { hostname: "bench", hostIp: "127.0.0.1", internal: false, explicit: false, allowScriptChecks: false };
  let services = deriveServices(c, opts).services.length; // warm up
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    services = deriveServices(c, opts).services.length;
    times.push(performance.now() - t);
  }
  return { ms: percentile(times, 50), services };
}

async function main(): Promise<void> {
  const runtime: RegistratorRuntime = RUNTIME === "bun" ? "bun" : { binary: await freshBinary(tempDir("regbench-scale-")) };
  const load0 = loadavg();
  // First, in a fresh process: after the rounds the bench's own heap (10,000 containers' worth of
  // emulated engine) would be measured along.
  const derive = deriveBench(2000);
  const settings: Array<1 | 2> = REGISTRIES === "both" ? [1, 2] : [Number(REGISTRIES) as 1 | 2];
  const bySetting = new Map<1 | 2, Rounds>(settings.map((k) => [k, []]));
  // Alternately per size, so both settings see the machine in the same state.
  for (const n of [0, ...SIZES.filter((s) => s > 0)]) {
    for (const k of settings) {
      const r = await round(n, runtime, k);
      bySetting.get(k)!.push(r);
      if (n) console.error(`N=${n}, ${k} registr${k === 1 ? "y" : "ies"}: all registered in ${(r.spawnMs / 1000).toFixed(2)} s; start p50 ${percentile(r.start, 50).toFixed(2)} ms`);
    }
  }
  for (const k of settings) report(bySetting.get(k)!, runtime, derive, load0, k);
  if (settings.length === 2) sideBySide(bySetting.get(1)!, bySetting.get(2)!);
}

/** One registry vs two, same run: the figures issue 16 holds within 1.2×. */
function sideBySide(one: Rounds, two: Rounds): void {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const second = SECOND === "etcd" ? "etcd" : SECOND_LOCAL;
  console.log(`
one registry (${REGISTRY === "etcd" ? "etcd" : "local://"}) vs two (+ ${second}), same run; ratio = two / one, target ≤ 1.2×`);
  const rows: string[][] = [["containers", "figure", "one", "two", "ratio", ""]];
  const idle1 = one.find((r) => r.n === 0)!;
  const idle2 = two.find((r) => r.n === 0)!;
  for (const r1 of one.filter((r) => r.n > 0)) {
    const r2 = two.find((r) => r.n === r1.n);
    if (!r2) continue;
    const figures: Array<[string, number, number, string]> = [
      ["spawn → all registered", r1.spawnMs / 1000, r2.spawnMs / 1000, "s"],
      ["start → daemon's event p50", percentile(r1.startSaid, 50), percentile(r2.startSaid, 50), "ms"],
      ["stop → daemon's event p50", percentile(r1.stopSaid, 50), percentile(r2.stopSaid, 50), "ms"],
      [`start → in ${REGISTRY === "etcd" ? "etcd" : "catalog"} p50`, percentile(r1.start, 50), percentile(r2.start, 50), "ms"],
      [`stop (die) → out p50`, percentile(r1.stopFromDie, 50), percentile(r2.stopFromDie, 50), "ms"],
      ["CPU per event", r1.eventCpuMs, r2.eventCpuMs, "ms"],
      ["RSS per service", ((r1.rssKb - idle1.rssKb) * 1024) / r1.n / 1024, ((r2.rssKb - idle2.rssKb) * 1024) / r2.n / 1024, "KiB"],
    ];
    for (const [what, a, b, unit] of figures) {
      const ratio = b / a;
      rows.push([r1.n.toLocaleString("en-US"), what, `${f(a)} ${unit}`, `${f(b)} ${unit}`, `${f(ratio)}×`, Number.isFinite(ratio) ? (ratio <= 1.2 ? "met" : "NOT met") : "–"]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}

function report(rounds: Rounds, runtime: RegistratorRuntime, derive: { ms: number; services: number }, load0: string, registries: 1 | 2): void {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const who = typeof runtime === "string" ? `${runtime} src/cli.ts` : `compiled ${runtime.binary}`;
  console.log(`\nregistrator at scale — SIMULATION: an emulated Docker Engine API (bench/engine.ts) on a unix socket, no real containers`);
  console.log(`${cpus().length} CPUs, ${cpus()[0]?.model ?? "unknown CPU"}; load average ${load0} at start, ${loadavg()} at end`);
  const also = registries === 2 ? `, and beside it ${SECOND === "etcd" ? "etcd" : SECOND_LOCAL} (all registered: in both)` : "";
  console.log(`registrator: ${who}; registry ${REGISTRY === "etcd" ? "etcd v3 (watched)" : "local:// (embedded, read via its catalog API)"}${also}; ${PROBES} probes per size\n`);
  const idle = rounds.find((r) => r.n === 0)!;
  const sized = rounds.filter((r) => r.n > 0);
  const where = REGISTRY === "etcd" ? "etcd" : "catalog";
  const header = ["containers", "spawn → all registered", "CPU for that", `start → in ${where} p50 / p95`, "start → daemon's event p50", `stop (die) → out of ${where} p50 / p95`, "stop → daemon's event p50", "stop (kill) → out p50", "CPU per event", "RSS / peak", "RSS per service"];
  const rows = [
    ["0 (probes only)", "–", f(idle.spawnCpu, 2) + " s", `${f(percentile(idle.start, 50))} / ${f(percentile(idle.start, 95))} ms`, `${f(percentile(idle.startSaid, 50))} ms`, `${f(percentile(idle.stopFromDie, 50))} / ${f(percentile(idle.stopFromDie, 95))} ms`, `${f(percentile(idle.stopSaid, 50))} ms`, "–", `${f(idle.eventCpuMs)} ms`, `${f(idle.rssKb / 1024, 1)} / ${f(idle.hwmKb / 1024, 1)} MiB`, "–"],
    ...sized.map((r) => [
      r.n.toLocaleString("en-US"),
      `${f(r.spawnMs / 1000, 2)} s`,
      `${f(r.spawnCpu, 2)} s`,
      `${f(percentile(r.start, 50))} / ${f(percentile(r.start, 95))} ms`,
      `${f(percentile(r.startSaid, 50))} ms`,
      `${f(percentile(r.stopFromDie, 50))} / ${f(percentile(r.stopFromDie, 95))} ms`,
      `${f(percentile(r.stopSaid, 50))} ms`,
      `${f(percentile(r.stopFromKill, 50))} ms`,
      `${f(r.eventCpuMs)} ms`,
      `${f(r.rssKb / 1024, 1)} / ${f(r.hwmKb / 1024, 1)} MiB`,
      `${f(((r.rssKb - idle.rssKb) * 1024) / r.n / 1024, 2)} KiB`,
    ]),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const lost = sized.flatMap((r) => r.lost.map((l) => `N=${r.n} ${l}`));
  if (lost.length) console.log(`\nnot seen within 30 s: ${lost.join(", ")}`);

  // Targets (issue 8).
  const targets: Array<[string, string, boolean | undefined]> = [];
  const small = sized.find((r) => r.n === 100);
  const mid = sized.find((r) => r.n === 1000);
  const big = sized.find((r) => r.n === 10000);
  if (small && big) {
    const own = REGISTRY === "local";
    for (const [what, pick] of [
      [`start → in ${REGISTRY === "etcd" ? "etcd" : "catalog"}`, (r: Round) => r.start],
      [`stop (die) → out of ${REGISTRY === "etcd" ? "etcd" : "catalog"}`, (r: Round) => r.stopFromDie],
      ...(own ? ([["start → daemon's event (own work)", (r: Round) => r.startSaid], ["stop → daemon's event (own work)", (r: Round) => r.stopSaid]] as const) : []),
    ] as const) {
      const a = percentile(pick(small), 50);
      const b = percentile(pick(big), 50);
      targets.push([`${what} p50 at 10,000 ≤ 1.5 × p50 at 100`, `${f(b)} ms vs ${f(a)} ms (${f(b / a)}×)`, b <= 1.5 * a]);
    }
  }
  if (big) targets.push(["10,000 registered ≤ 5 s after spawn", `${f(big.spawnMs / 1000)} s`, big.spawnMs <= 5000]);
  if (big && mid) targets.push(["10,000 registered ≤ 12 × the 1,000 figure (linear)", `${f(big.spawnMs / mid.spawnMs)}×`, big.spawnMs <= 12 * mid.spawnMs]);
  const perService = sized.map((r) => ((r.rssKb - idle.rssKb) * 1024) / r.n);
  if (sized.length) {
    const worst = Math.max(...perService);
    targets.push(["≤ 4 KiB RSS per registered service (largest N above idle)", `${f((perService.at(-1) ?? NaN) / 1024)} KiB (worst ${f(worst / 1024)})`, (perService.at(-1) ?? Infinity) <= 4096]);
  }
  targets.push([`derive 1 container, 2,000 ports × 2,000 labels ≤ 100 ms (pure, in the bench)`, `${f(derive.ms)} ms, ${derive.services} services`, derive.ms <= 100]);
  console.log("\ntarget                                                         measured                          ");
  const tw = Math.max(...targets.map((t) => t[0].length));
  const mw = Math.max(...targets.map((t) => t[1].length));
  for (const [what, measured, ok] of targets) console.log(`${what.padEnd(tw)}  ${measured.padEnd(mw)}  ${ok === undefined ? "–" : ok ? "met" : "NOT met"}`);
}

try {
  await main();
} finally {
  await runTestRunEnd(); // temp dirs, any child left running
}
