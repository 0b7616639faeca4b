#!/usr/bin/env bun
// Latency on the real engine and a real etcd, every figure from a Docker event's timeNano (read from
// the engine's event stream) to what an etcd v3 watch on the prefix sees:
//   - spawn → first registration: registrator started with one container already running;
//   - registration: `start` → key put, N containers started one after another;
//   - deregistration: the same N exit by themselves one after another (`die`, no `kill`): `die` →
//     key deleted; N at once the same way, per container;
//   - `docker rm -f` (the engine sends kill, die, destroy), one after another and N at once:
//     `kill` (rm -f's first step) → key deleted, and from `die` (negative: deleted before it);
// next to the floor measured in the same run: one container inspect over the Docker socket plus
// one etcd put, on warm connections, and an ideal client inside the bench.
//
//   bun bench/latency.ts [--containers 30] [--spawns 5] [--floor 300] [--runtime compiled|bun|deno]
//
// Prints figures and issue 8's targets (met / NOT met); asserts nothing; removes what it started.
import { jsonLines, loadavg, percentile } from "./common.ts";
import { cpus } from "node:os";
import { freshBinary } from "../build.ts";
import { sharedDockerd, type Dockerd } from "../test/support/docker.ts";
import { type Etcd, startEtcd } from "../test/support/etcd.ts";
import { freePort, type Proc, runTestRunEnd, tempDir, waitFor } from "../test/support/proc.ts";
import { startRegistrator, type RegistratorRuntime } from "../test/support/registrator.ts";

const argv = Bun.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const CONTAINERS = Number(opt("containers", "30"));
const FLOOR_ITERATIONS = Number(opt("floor", "300"));
const SPAWNS = Number(opt("spawns", "5"));
const RUNTIME = opt("runtime", "compiled");
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
/** Wall-clock now in ns, sub-millisecond (the same clock as Docker's timeNano on this host). */
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));




/** Docker container events: container ID → timeNano per action, and when `start` arrived here. */
function watchEvents(d: Dockerd, signal: AbortSignal) {
  const starts = new Map<string, { timeNano: bigint; arrived: bigint }>();
  const times = new Map<string, Map<string, bigint>>(); // action → id → timeNano
  for (const a of ["kill", "die", "destroy"]) times.set(a, new Map());
  /** die: timeNano → arrival here, ms (how late the engine itself delivers it). */
  const dieDelivery = new Map<string, number>();
  const filters = encodeURIComponent(JSON.stringify({ type: ["container"], event: ["start", "kill", "die", "destroy"] }));
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  const handle = { starts, times, dieDelivery, ready, onStart: undefined as ((id: string) => unknown) | undefined };
  (async () => {
    const res = await d.api(`${API}/events?filters=${filters}`, { signal });
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
        if (e.Action === "die" && !dieDelivery.has(id)) dieDelivery.set(id, Number(arrived - BigInt(e.timeNano)) / 1e6);
      }
    }
  })().catch((err) => {
    if (!signal.aborted) console.error(`events stream: ${err}`);
  });
  return handle;
}

interface EtcdSeen {
  /** value ("ip:port") → the latest PUT arrival (host ports are reused across phases). */
  seen: Map<string, bigint>;
  /** key → first PUT arrival. */
  puts: Map<string, bigint>;
  /** key → DELETE arrival (the latest). */
  deletes: Map<string, bigint>;
  /** value → the key it was put at. */
  keyOf: Map<string, string>;
  ready: Promise<void>;
}

/** etcd events under the prefix, with their arrival time here. */
function watchEtcd(clientUrl: string, signal: AbortSignal): EtcdSeen {
  const out: EtcdSeen = { seen: new Map(), puts: new Map(), deletes: new Map(), keyOf: new Map(), ready: Promise.resolve() };
  let opened!: () => void;
  out.ready = new Promise<void>((r) => (opened = r));
  (async () => {
    const res = await fetch(`${clientUrl}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: { key: b64(`${PREFIX}/`), range_end: prefixEnd(`${PREFIX}/`) } }),
      signal,
    });
    if (!res.ok || !res.body) throw new Error(`etcd watch: ${res.status}`);
    for await (const msg of jsonLines(res.body)) {
      const at = nowNs();
      if (msg.result?.created) opened();
      for (const ev of msg.result?.events ?? []) {
        const key = unb64(ev.kv?.key);
        if (ev.type === "DELETE") {
          out.deletes.set(key, at);
          continue;
        }
        // PUT is the default and omitted from the JSON
        const value = unb64(ev.kv?.value);
        out.seen.set(value, at);
        if (!out.puts.has(key)) out.puts.set(key, at);
        out.keyOf.set(value, key);
      }
    }
  })().catch((err) => {
    if (!signal.aborted) console.error(`etcd watch: ${err}`);
  });
  return out;
}

async function createAndStart(d: Dockerd, image: string, hostPort: number, name: string): Promise<string> {
  const res = await d.api(`${API}/containers/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      Image: image,
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

/** What a registrator must do per container: inspect it, put its key. Returns the key's value. */
async function inspectAndPut(d: Dockerd, clientUrl: string, id: string, key: string, split?: { inspect: number[]; put: number[] }): Promise<string> {
  const t0 = performance.now();
  const info = (await (await d.api(`${API}/containers/${id}/json`)).json()) as { NetworkSettings: { Ports: Record<string, Array<{ HostPort: string }> | null> } };
  const value = `127.0.0.1:${info.NetworkSettings.Ports["80/tcp"]?.[0]?.HostPort ?? "0"}`;
  const t1 = performance.now();
  const res = await fetch(`${clientUrl}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(key), value: b64(value) }) });
  if (!res.ok) throw new Error(`etcd put: ${res.status}`);
  await res.arrayBuffer();
  split?.inspect.push(t1 - t0);
  split?.put.push(performance.now() - t1);
  return value;
}

/** The floor: inspect one container over the socket + put one key in etcd, warm connections. */
async function floor(d: Dockerd, clientUrl: string, id: string, n: number, gapMs = 0): Promise<number[]> {
  for (let i = 0; i < 20; i++) await inspectAndPut(d, clientUrl, id, `/bench-floor/${i % 8}`); // warm up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs) await Bun.sleep(gapMs);
    const t = performance.now();
    await inspectAndPut(d, clientUrl, id, `/bench-floor/${i % 8}`);
    out.push(performance.now() - t);
  }
  return out;
}

interface Phase { latencies: number[]; delivery: number[]; lost: string[]; started: Array<{ id: string; value: string }> }

/** Starts n containers one after another; for each, start event → its value visible in etcd. */
async function phase(d: Dockerd, label: string, n: number, events: ReturnType<typeof watchEvents>, watch: EtcdSeen, ids: string[]): Promise<Phase> {
  const out: Phase = { latencies: [], delivery: [], lost: [], started: [] };
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const id = await createAndStart(d, d.image, port, `${label}-${i}`);
    ids.push(id);
    const value = `127.0.0.1:${port}`;
    out.started.push({ id, value });
    try {
      // A PUT of this value after this container's start (its host port may have served another).
      await waitFor(() => events.starts.has(id) && (watch.seen.get(value) ?? 0n) > events.starts.get(id)!.timeNano, {
        timeout: 10_000, interval: 1, message: `${label}-${i} in etcd`,
      });
      const start = events.starts.get(id)!;
      out.latencies.push(Number(watch.seen.get(value)! - start.timeNano) / 1e6);
      out.delivery.push(Number(start.arrived - start.timeNano) / 1e6);
    } catch {
      out.lost.push(`${label}-${i}`);
    }
  }
  return out;
}

/** Containers removed by a phase (not to be removed again at the end). */
const removed = new Set<string>();

interface Removal { fromDie: number[]; fromKill: number[]; lost: string[]; dieDelivery: number[] }

/**
 * How containers go away: `exit` (the container's process ends by itself: `die`, no `kill`; the
 * bench writes to its FIFO with `docker exec`) or `rm -f` (the API's DELETE ?force=1: kill, die,
 * destroy). One after another, or all at once.
 */
async function removals(d: Dockerd, events: ReturnType<typeof watchEvents>, watch: EtcdSeen, started: Phase["started"], how: "exit" | "rm -f", atOnce: boolean): Promise<Removal> {
  const out: Removal = { fromDie: [], fromKill: [], lost: [], dieDelivery: [] };
  const remove = async (id: string) => {
    if (how === "rm -f") {
      const res = await d.api(`${API}/containers/${id}?force=1`, { method: "DELETE" });
      if (res.status !== 204) throw new Error(`Cannot remove ${id}: ${res.status} ${await res.text()}`);
      removed.add(id);
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
  const measure = async ({ id, value }: { id: string; value: string }) => {
    const key = watch.keyOf.get(value);
    try {
      if (!key) throw new Error("never registered");
      const kills = events.times.get("kill")!;
      await waitFor(() => watch.deletes.has(key) && events.times.get("die")!.has(id) && (how === "exit" || kills.has(id)), {
        timeout: 10_000, interval: 1, message: `${value} out of etcd`,
      });
      const gone = watch.deletes.get(key)!;
      out.fromDie.push(Number(gone - events.times.get("die")!.get(id)!) / 1e6);
      if (kills.has(id)) out.fromKill.push(Number(gone - kills.get(id)!) / 1e6);
      const delivered = events.dieDelivery.get(id);
      if (delivered !== undefined) out.dieDelivery.push(delivered);
    } catch {
      out.lost.push(value);
    }
  };
  if (atOnce) {
    await Promise.all(started.map((s) => remove(s.id)));
    await Promise.all(started.map(measure));
  } else {
    for (const s of started) {
      await Bun.sleep(100); // idle between events, as between real removals
      await remove(s.id);
      await measure(s);
    }
  }
  return out;
}

/** Spawn → first key in etcd, with one container already running; a fresh prefix per spawn. */
async function spawns(d: Dockerd, etcd: Etcd, runtime: RegistratorRuntime, watch: EtcdSeen, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const prefix = `${PREFIX}/spawn-${k}`;
    const http = await freePort();
    const t0 = nowNs();
    const reg = await startRegistrator(["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, `etcd://${etcd.endpoint}${prefix}`], {
      dockerHost: d.host, runtime, env: { HOME: tempDir("regbench-home-") },
    });
    try {
      const firstPut = () => {
        for (const [key, at] of watch.puts) if (key.startsWith(`${prefix}/`)) return at;
        return undefined;
      };
      const at = await waitFor(firstPut, { timeout: 30_000, interval: 1, message: `spawn ${k}: first registration` });
      out.push(Number(at - t0) / 1e6);
    } catch (err) {
      console.error(`registrator log tail:\n${reg.tail(30)}`);
      throw err;
    } finally {
      await reg.stop();
    }
  }
  return out;
}

async function registratorRuntime(): Promise<RegistratorRuntime> {
  if (RUNTIME === "bun" || RUNTIME === "deno") return RUNTIME;
  return { binary: await freshBinary(tempDir("regbench-latency-")) };
}

/** gliderlabs/registrator v7.4.0 on this VM kind (issue 8), for the targets column. */
const G = { reg50: 5.9, reg95: 11.4, dereg50: 5.8, dereg95: 19.6, burst50: 5.7, burstMax: 24, spawn: 44.5 };

async function main(): Promise<void> {
  const runtime = await registratorRuntime();
  const d = await sharedDockerd();
  const etcd = await startEtcd({ name: "bench" });
  const abort = new AbortController();
  const ids: string[] = [];
  const http = await freePort();
  const load0 = loadavg();
  let reg: Proc | undefined;
  try {
    const events = watchEvents(d, abort.signal);
    const watch = watchEtcd(etcd.clientUrl, abort.signal);
    await Promise.all([events.ready, watch.ready]);

    // 0. Spawn → first registration, one container running.
    const spawnee = await createAndStart(d, d.image, await freePort(), "spawnee");
    ids.push(spawnee);
    const spawnMs = await spawns(d, etcd, runtime, watch, SPAWNS);

    // 1. registrator -ip 127.0.0.1 etcd://…/bench
    reg = await startRegistrator(["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, `etcd://${etcd.endpoint}${PREFIX}`], {
      dockerHost: d.host, runtime, env: { HOME: tempDir("regbench-home-") },
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 30_000, message: "registrator /ready" });
    const measured = await phase(d, "bench", CONTAINERS, events, watch, ids);
    // 2. The same containers exit by themselves, one after another: die → key gone.
    const exits = await removals(d, events, watch, measured.started, "exit", false);
    // 3. N more, removed with rm -f one after another: kill (its first step) → key gone.
    const forced = await phase(d, "forced", CONTAINERS, events, watch, ids);
    const rmf = await removals(d, events, watch, forced.started, "rm -f", false);
    // 4. N more, all exiting at once; and N more removed with rm -f all at once.
    const burstGroup = await phase(d, "burst", CONTAINERS, events, watch, ids);
    const burst = await removals(d, events, watch, burstGroup.started, "exit", true);
    const rmGroup = await phase(d, "burstrm", CONTAINERS, events, watch, ids);
    const burstRm = await removals(d, events, watch, rmGroup.started, "rm -f", true);
    const registrations = [...measured.latencies, ...forced.latencies, ...burstGroup.latencies, ...rmGroup.latencies];
    await reg.stop();

    // 4. The same procedure with an ideal registrator in this process: on the start event,
    //    inspect + put, nothing else (what registrator could do at best on this machine right now).
    const split = { inspect: [] as number[], put: [] as number[] };
    events.onStart = (id) => void inspectAndPut(d, etcd.clientUrl, id, `${PREFIX}/ideal/${id.slice(0, 12)}`, split).catch((e) => console.error(`ideal: ${e}`));
    const ideal = await phase(d, "ideal", CONTAINERS, events, watch, ids);
    events.onStart = undefined;

    // 5. The floor: inspect + put in a tight loop on warm connections.
    const floorMs = await floor(d, etcd.clientUrl, ids[0]!, FLOOR_ITERATIONS);
    // 6. The same pair, still on warm connections, but one at a time with idle gaps as between
    //    container starts: on this VM every wake-up after idling costs about a millisecond per
    //    process hop, which no event-driven client can avoid and the tight loop never pays.
    const spacedMs = await floor(d, etcd.clientUrl, ids[0]!, CONTAINERS, 500);

    const f = (x: number) => `${x.toFixed(2)} ms`;
    const p = (xs: number[]) => [percentile(xs, 50), percentile(xs, 95)] as const;
    const [p50, p95] = p(registrations);
    const [f50, f95] = p(floorMs);
    const who = typeof runtime === "string" ? `${runtime} src/cli.ts` : `compiled ${runtime.binary}`;
    console.log(`\nregistrator latency — ${cpus().length} CPUs, ${cpus()[0]?.model ?? "unknown CPU"}; load average ${load0} at start, ${loadavg()} at end`);
    console.log(`registrator: ${who}; registry etcd v3 ${etcd.endpoint}${PREFIX}; engine ${d.host}\n`);
    const row = (name: string, xs: number[]) => [name, String(xs.length), f(percentile(xs, 50)), f(percentile(xs, 95)), f(Math.min(...xs)), f(Math.max(...xs))];
    const rows = [
      ["", "n", "p50", "p95", "min", "max"],
      row("spawn → first registration (1 container running)", spawnMs),
      row("registration: start event → key in etcd", registrations),
      row("deregistration (exit, one by one): die → key gone", exits.fromDie),
      row("  engine alone: die timeNano → event received", exits.dieDelivery),
      row(`${CONTAINERS} exiting at once: die → key gone, per container`, burst.fromDie),
      row("  engine alone: their die timeNano → event received", burst.dieDelivery),
      row("rm -f, one by one: kill (its first step) → key gone", rmf.fromKill),
      row("  the same from its die (< 0: gone before the die)", rmf.fromDie),
      row(`${CONTAINERS} rm -f at once: kill → key gone, per container`, burstRm.fromKill),
      row("  the same from their die", burstRm.fromDie),
      row("floor: inspect + etcd put (warm loop)", floorMs),
      row("floor, spaced 500 ms like events", spacedMs),
      row("ideal in-bench registrator, same procedure", ideal.latencies),
      row("  of which: inspect right after start", split.inspect),
      row("  of which: etcd put", split.put),
      row("engine: start timeNano → event received", [...measured.delivery, ...ideal.delivery]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
    console.log(`\nvs floor: p50 +${f(p50 - f50)} (${(p50 / f50).toFixed(2)}×), p95 +${f(p95 - f95)} (${(p95 / f95).toFixed(2)}×)`);
    const [i50, i95] = p(ideal.latencies);
    console.log(`vs ideal: p50 +${f(p50 - i50)} (${(p50 / i50).toFixed(2)}×), p95 +${f(p95 - i95)} (${(p95 / i95).toFixed(2)}×)`);
    const s50 = percentile(spacedMs, 50);
    console.log(`vs spaced floor: p50 +${f(p50 - s50)}`);

    const [d50, d95] = p(exits.fromDie);
    const [k50] = p(rmf.fromKill);
    const b50 = percentile(burst.fromDie, 50);
    const bMax = Math.max(...burst.fromDie);
    const spawn50 = percentile(spawnMs, 50);
    const targets: Array<[string, string, string, boolean]> = [
      ["registration p50 / p95", `${f(p50)} / ${f(p95)}`, `≤ G's ${G.reg50} / ${G.reg95} ms`, p50 <= G.reg50 && p95 <= G.reg95],
      ["deregistration (die → gone) p50 / p95", `${f(d50)} / ${f(d95)}`, `≤ 5 / 15 ms (G ${G.dereg50} / ${G.dereg95})`, d50 <= 5 && d95 <= 15],
      [`${CONTAINERS} exiting at once: per container p50 / max`, `${f(b50)} / ${f(bMax)}`, `≤ 10 / 100 ms (G ${G.burst50} / ${G.burstMax})`, b50 <= 10 && bMax <= 100],
      ["rm -f: kill → gone p50 (issue 10)", f(k50), "≤ 10 ms", k50 <= 10],
      ["spawn → first registration, p50", f(spawn50), `≤ 80 ms (G ${G.spawn})`, spawn50 <= 80],
    ];
    console.log("");
    const tw = targets[0]!.map((_, c) => Math.max(...targets.map((t) => String(t[c]).length)));
    for (const t of targets) console.log(`${t[0].padEnd(tw[0]!)}  ${t[1].padEnd(tw[1]!)}  ${t[2].padEnd(tw[2]!)}  ${t[3] ? "met" : "NOT met"}`);
    const lost = [
      ...[measured, forced, burstGroup, rmGroup, ideal].flatMap((ph) => ph.lost),
      ...exits.lost.map((v) => `${v} (exit)`), ...rmf.lost.map((v) => `${v} (rm -f)`),
      ...burst.lost.map((v) => `${v} (burst)`), ...burstRm.lost.map((v) => `${v} (rm -f burst)`),
    ];
    if (lost.length) console.log(`not seen within 10 s: ${lost.join(", ")}`);
  } catch (err) {
    if (reg) console.error(`registrator log tail:\n${reg.tail(30)}`);
    throw err;
  } finally {
    abort.abort();
    await reg?.stop();
    const left = ids.filter((id) => !removed.has(id));
    if (left.length) await d.docker(["rm", "-f", ...left]).catch((e: Error) => console.error(e.message));
    await etcd.stop();
  }
}

try {
  await main();
} finally {
  await runTestRunEnd(); // the private dockerd and temp dirs
}
