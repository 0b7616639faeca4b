#!/usr/bin/env bun
// Startup, phase by phase, for ours and for gliderlabs/registrator v7.4.0 ("G"), in the same run:
// spawn → first registration with one container running, split by what the process does on the
// wire. The bench puts a recording proxy in front of the Docker socket and one in front of etcd
// (started with --enable-v2), so each phase is read from outside the process, the same way for
// both programs, without changing either:
//
//   spawn → first connection to Docker (the runtime starts, modules load, flags, registry setup)
//   → the Docker connection's first request, the container list, the first inspect (request and
//     answer), the first request to etcd, the first write to etcd (request and answer), and the key
//     seen by an etcd watch.
//
// Next to them, spawn → exit of an empty compiled Bun program (what any Bun executable costs before
// its first line runs) and of `registrator -version`; each warm (run again right after) and cold (the
// executable dropped from the page cache first; see bench/common.ts).
//
//   bun bench/startup.ts [--spawns 5] [--ref <binary> | --no-ref] [--ours <binary>[,<binary>…]]
//                        [--api v2|v3|both] [--no-cold]
//
// --ours measures given executables (several: side by side, e.g. build variants) instead of a
// fresh build; --api which of ours' etcd APIs to run (G speaks v2 only).
//
// The proxies add a hop (tens of microseconds) to every request of both programs alike. Prints
// medians; asserts nothing.
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Socket } from "bun";
import { cpuMs, defaultReference, dropFromPageCache, jsonLines, loadavg, machine, median, nowNs, options, printTable, startPublishedHttpd } from "./common.ts";
import { freshBinary } from "../build/fresh.ts";
import { sharedDockerd, type Dockerd } from "../test/support/docker.ts";
import { startEtcd } from "../test/support/etcd.ts";
import { freePort, runTestRunEnd, tempDir, waitFor } from "../test/support/proc.ts";
import { REPO_ROOT, startRegistrator } from "../test/support/registrator.ts";

const opt = options(Bun.argv.slice(2));
const SPAWNS = Number(opt.get("spawns", "5"));
const REF = opt.has("no-ref") ? undefined : opt.get("ref", "") || defaultReference(REPO_ROOT);
const COLD = !opt.has("no-cold");
const APIS = opt.get("api", "both");
const API = "/v1.41";
const ms = (a: bigint | undefined, b: bigint) => (a === undefined ? NaN : Number(a - b) / 1e6);

/** One request seen by a proxy: when its first bytes passed, and when its answer's first bytes came back. */
interface Exchange { conn: number; line: string; sent: bigint; answered?: bigint }

/**
 * A proxy that records each HTTP/1.1 request line passing through it, and when its answer began
 * (answers come back in order on a connection). Listens on a unix socket or a loopback port.
 */
function recordingProxy(listen: { unix: string } | { port: number }, upstream: { unix: string } | { port: number }) {
  const log: Exchange[] = [];
  const connectsAt: bigint[] = [];
  type Data = { id: number; up?: Socket<unknown>; pending: Uint8Array[]; waiting: Exchange[] };
  let next = 0;
  const server = Bun.listen<Data>({
    ...(("unix" in listen ? { unix: listen.unix } : { hostname: "127.0.0.1", port: listen.port }) as { unix: string }),
    socket: {
      open(client) {
        connectsAt.push(nowNs());
        const data: Data = { id: next++, pending: [], waiting: [] };
        client.data = data;
        void Bun.connect({
          ...(("unix" in upstream ? { unix: upstream.unix } : { hostname: "127.0.0.1", port: upstream.port }) as { unix: string }),
          socket: {
            open(up) {
              data.up = up;
              for (const chunk of data.pending) up.write(chunk);
              data.pending = [];
            },
            data(_up, chunk) {
              if (data.waiting.length && startsWith(chunk, "HTTP/")) data.waiting.shift()!.answered = nowNs();
              client.write(chunk);
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, chunk) {
        const data = client.data;
        const m = /^(GET|HEAD|POST|PUT|DELETE|PATCH) (\S+)/.exec(new TextDecoder().decode(chunk.subarray(0, 300)));
        if (m) {
          const ex: Exchange = { conn: data.id, line: `${m[1]} ${m[2]}`, sent: nowNs() };
          log.push(ex);
          data.waiting.push(ex);
        }
        if (data.up) data.up.write(chunk);
        else data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data?.up?.end();
      },
      error(client) {
        client.data?.up?.end();
      },
    },
  });
  return {
    log,
    connectsAt,
    reset: () => {
      log.length = 0;
      connectsAt.length = 0;
    },
    stop: () => server.stop(true),
  };
}

function startsWith(chunk: Uint8Array, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (chunk[i] !== s.charCodeAt(i)) return false;
  return true;
}

interface Phases {
  dockerConnect: number;
  firstDockerRequest: number;
  list: number;
  inspectSent: number;
  inspectAnswered: number;
  firstEtcd: number;
  writeSent: number;
  writeAnswered: number;
  seen: number;
  /** CPU the process had used when its first registration was seen (less sensitive to load than wall time). */
  cpu: number;
  firstDockerLine: string;
  firstEtcdLine: string;
}

const PHASES: Array<[keyof Phases, string]> = [
  ["dockerConnect", "spawn → first connection to Docker"],
  ["firstDockerRequest", "  → its first request"],
  ["list", "  → the container list (request)"],
  ["inspectSent", "  → the first inspect (request)"],
  ["inspectAnswered", "  → the first inspect (answer)"],
  ["firstEtcd", "first request to etcd (from spawn)"],
  ["writeSent", "  → the first write (request)"],
  ["writeAnswered", "  → the first write (answer)"],
  ["seen", "  → key seen by a watch = first registration"],
  ["cpu", "CPU ms used by then (user + system)"],
];

/** Spawn → exit of a command, ms. */
async function spawnToExit(cmd: string[]): Promise<number> {
  const t0 = nowNs();
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore", env: { ...process.env, GL_DISABLE_VERSION_CHECK: "1" } });
  await p.exited;
  return ms(nowNs(), t0);
}

async function main(): Promise<void> {
  const scratch = tempDir("regbench-startup-");
  const ours = opt.get("ours", "") ? opt.get("ours", "").split(",") : [await freshBinary(scratch)];
  const d: Dockerd = await sharedDockerd();
  const etcd = await startEtcd({ name: "startup", v2: true });
  const abort = new AbortController();
  const dockerSock = join(scratch, "docker.sock");
  const dockerProxy = recordingProxy({ unix: dockerSock }, { unix: d.host.replace(/^unix:\/\//, "") });
  const etcdPort = await freePort();
  const etcdProxy = recordingProxy({ port: etcdPort }, { port: etcd.ports.client });
  // An empty compiled Bun program: the floor of any Bun executable.
  const emptyEntry = join(scratch, "empty.ts");
  writeFileSync(emptyEntry, "export {};\n");
  const empty = join(scratch, "empty");
  const built = await Bun.build({ entrypoints: [emptyEntry], compile: { target: "bun-linux-x64", outfile: empty }, minify: true, bytecode: true });
  if (!built.success) throw new Error(`Cannot compile the empty program: ${built.logs.join("; ")}`);

  const seen = new Map<string, bigint>(); // tag → first PUT seen
  const load0 = loadavg();
  const ids: string[] = [];
  try {
    // A watch of both of etcd's APIs, straight to etcd (not through the proxy).
    const tagOf = (key: string) => key.split("/")[2] ?? "";
    const note = (key: string) => {
      const tag = tagOf(key);
      if (!seen.has(tag)) seen.set(tag, nowNs());
    };
    let v3ok!: () => void;
    const v3 = new Promise<void>((r) => (v3ok = r));
    void (async () => {
      const res = await fetch(`${etcd.clientUrl}/v3/watch`, {
        method: "POST",
        body: JSON.stringify({ create_request: { key: Buffer.from("/start/").toString("base64"), range_end: Buffer.from("/start0").toString("base64") } }),
        signal: abort.signal,
        timeout: false,
      } as RequestInit);
      for await (const msg of jsonLines(res.body!)) {
        if (msg.result?.created) v3ok();
        for (const ev of msg.result?.events ?? []) if (ev.type !== "DELETE") note(Buffer.from(ev.kv.key, "base64").toString());
      }
    })().catch(() => {});
    const v2res = await fetch(`${etcd.clientUrl}/v2/keys/start?wait=true&recursive=true&stream=true`, { signal: abort.signal, timeout: false } as RequestInit);
    void (async () => {
      for await (const msg of jsonLines(v2res.body!)) if (!/delete|expire/.test(msg.action)) note(msg.node?.key ?? "");
    })().catch(() => {});
    await v3;

    const Id = await startPublishedHttpd(d, API);
    ids.push(Id);

    const subjects: Array<{ name: string; file: string; args: (tag: string) => string[]; env?: Record<string, string> }> = [];
    if (REF) subjects.push({ name: "G (v2)", file: REF, args: (tag) => ["-ip", "127.0.0.1", `etcd://127.0.0.1:${etcdPort}/start/${tag}`], env: { GL_DISABLE_VERSION_CHECK: "1" } });
    const mine = (file: string, name: string, q: string) => ({ name, file, args: (tag: string) => ["-ip", "127.0.0.1", "-http", "127.0.0.1:0", `etcd://127.0.0.1:${etcdPort}/start/${tag}${q}`] });
    for (const file of ours) {
      const suffix = ours.length > 1 ? ` ${basename(file)}` : "";
      if (APIS !== "v3") subjects.push(mine(file, `ours v2${suffix}`, "?api=v2"));
      if (APIS !== "v2") subjects.push(mine(file, `ours v3${suffix}`, ""));
    }

    const results = new Map<string, Phases[]>();
    const exits = new Map<string, number[]>();
    const modes = COLD ? (["warm", "cold"] as const) : (["warm"] as const);
    let n = 0;
    for (let k = 0; k < SPAWNS; k++) {
      for (const mode of modes) {
        // Spawn → exit: the empty program and `-version`.
        for (const [name, cmd] of [["empty compiled Bun program", [empty]], ...ours.map((o) => [`ours -version${ours.length > 1 ? ` ${basename(o)}` : ""}`, [o, "-version"]]), ...(REF ? [["G -version", [REF, "-version"]]] : [])] as Array<[string, string[]]>) {
          if (mode === "cold") dropFromPageCache(cmd[0]!);
          const key = `${name} (${mode})`;
          exits.set(key, [...(exits.get(key) ?? []), await spawnToExit(cmd)]);
        }
        for (const s of subjects) {
          const tag = `t${n++}`;
          if (mode === "cold") dropFromPageCache(s.file);
          dockerProxy.reset();
          etcdProxy.reset();
          const t0 = nowNs();
          const proc = await startRegistrator(s.args(tag), { dockerHost: `unix://${dockerSock}`, runtime: { binary: s.file }, env: { HOME: tempDir("regbench-home-"), ...s.env } });
          try {
            const at = await waitFor(() => seen.get(tag), { timeout: 30_000, interval: 1, message: `${s.name}: first registration` });
            const cpu = cpuMs(proc.pid);
            const dl = dockerProxy.log;
            const el = etcdProxy.log;
            const inspect = dl.find((e) => /\/containers\/[0-9a-f]{12,}\/json/.test(e.line));
            const write = el.find((e) => /^PUT \/v2\/keys|^POST \/v3\/kv\/(put|txn)/.test(e.line));
            const p: Phases = {
              dockerConnect: ms(dockerProxy.connectsAt[0], t0),
              firstDockerRequest: ms(dl[0]?.sent, t0),
              list: ms(dl.find((e) => /\/containers\/json/.test(e.line))?.sent, t0),
              inspectSent: ms(inspect?.sent, t0),
              inspectAnswered: ms(inspect?.answered, t0),
              firstEtcd: ms(el[0]?.sent, t0),
              writeSent: ms(write?.sent, t0),
              writeAnswered: ms(write?.answered, t0),
              seen: ms(at, t0),
              cpu,
              firstDockerLine: dl[0]?.line ?? "",
              firstEtcdLine: el.slice(0, 4).map((e) => e.line).join(", "),
            };
            const key = `${s.name} (${mode})`;
            results.set(key, [...(results.get(key) ?? []), p]);
          } catch (err) {
            console.error(`${s.name} log tail:\n${proc.tail(30)}`);
            throw err;
          } finally {
            await proc.stop();
          }
        }
      }
    }

    console.log(`\nregistrator startup — ${machine()}; load average ${load0} at start, ${loadavg()} at end`);
    console.log(`ours: ${ours.join(", ")}; G: ${REF ?? "(none)"}; medians of ${SPAWNS}; ms from spawn; cold = the executable dropped from the page cache first\n`);
    printTable([
      ["spawn → exit", "median", "min", "max"],
      ...[...exits].map(([k, xs]) => [k, median(xs).toFixed(1), Math.min(...xs).toFixed(1), Math.max(...xs).toFixed(1)]),
    ]);
    console.log("");
    const cols = [...results.keys()];
    printTable([
      ["ms from spawn (median)", ...cols],
      ...PHASES.map(([k, label]) => [label, ...cols.map((c) => median(results.get(c)!.map((p) => p[k] as number).filter(Number.isFinite)).toFixed(1))]),
    ]);
    console.log("");
    for (const c of cols) {
      const p = results.get(c)![0]!;
      console.log(`${c}: first Docker request ${p.firstDockerLine}; etcd requests ${p.firstEtcdLine}`);
    }
  } finally {
    abort.abort();
    dockerProxy.stop();
    etcdProxy.stop();
    if (ids.length) await d.api(`${API}/containers/${ids[0]}?force=1`, { method: "DELETE" }).catch(() => {});
    await etcd.stop();
  }
}

try {
  await main();
} finally {
  await runTestRunEnd();
}
