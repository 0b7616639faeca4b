#!/usr/bin/env bun
// Footprint side by side with gliderlabs/registrator v7.4.0 ("G") in the same run: RSS, RssAnon and
// RssFile idle and after work, for G (etcd's v2 keys API, its only one), ours compiled on the same
// API (`?api=v2`), on its default v3 and with the embedded registry (local://, then after serving
// its HTTP API), `bun src/cli.ts`, and an empty compiled Bun program (what any Bun executable
// costs). The executable's size too.
//
//   bun bench/footprint.ts [--seconds 5] [--containers 10] [--ref <binary> | --no-ref]
//                          [--ours <binary>] [--deno] [--variants]
//
// Idle: one container running; once the subject has registered it (local://: /ready), 3 s more,
// then VmRSS sampled every 500 ms for --seconds (median), RssAnon and RssFile read then. After work:
// --containers containers started one after another and each registered, then removed with
// `rm -f` one after another, each deregistered, and 3 s more. Peak is VmHWM. --variants also
// compiles and measures build options (no bytecode, the normal JIT policy from the start, --smol)
// with local://.
// Prints a table; asserts nothing.
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, releaseVersion } from "../build/compile.ts";
import { freshBinary } from "../build/fresh.ts";
import { defaultReference, machine, median, mib, options, printTable, startPublishedHttpd, statusKib } from "./common.ts";
import { sharedDockerd, type Dockerd } from "../test/support/docker.ts";
import { type Etcd, startEtcd } from "../test/support/etcd.ts";
import { freePort, type Proc, runTestRunEnd, spawn, tempDir, waitFor } from "../test/support/proc.ts";
import { REPO_ROOT, startRegistrator, type RegistratorRuntime } from "../test/support/registrator.ts";

const opt = options(Bun.argv.slice(2));
const seconds = Number(opt.get("seconds", "5")) || 5;
const CONTAINERS = Number(opt.get("containers", "10"));
const REF = opt.has("no-ref") ? undefined : opt.get("ref", "") || defaultReference(REPO_ROOT);
const API = "/v1.41";

interface Row { name: string; size?: number; startMs: number; rss: number; anon: number; file: number; hwm: number; after?: { rss: number; anon: number; file: number } }

interface Subject {
  name: string;
  runtime: RegistratorRuntime;
  size?: number;
  /** args for a prefix (etcd) and an HTTP port. */
  args: (prefix: string, http: number) => string[];
  env?: Record<string, string>;
  /** etcd API it writes, or "local" (the embedded registry: readiness through /ready). */
  api: "v2" | "v3" | "local";
  /** Serve the HTTP API a few times after the idle sample (local:// only). */
  serve?: boolean;
}

/** Keys under prefix in etcd, v2 or v3. */
async function keyCount(etcd: Etcd, api: "v2" | "v3", prefix: string): Promise<number> {
  if (api === "v3") return (await etcd.range(`${prefix}/`)).length;
  const res = await fetch(`${etcd.clientUrl}/v2/keys${prefix}?recursive=true`);
  if (res.status === 404) return 0;
  const count = (n: { dir?: boolean; nodes?: unknown[] }): number => (n.dir ? (n.nodes ?? []).reduce<number>((a, c) => a + count(c as never), 0) : 1);
  return count(((await res.json()) as { node: never }).node);
}

async function sampleRss(pid: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < Math.max(3, Math.round(seconds * 2)); i++) {
    xs.push(statusKib(pid, "VmRSS"));
    await Bun.sleep(500);
  }
  return median(xs);
}

async function measure(s: Subject, d: Dockerd, etcd: Etcd, n: number): Promise<Row> {
  const http = await freePort();
  const prefix = `/footprint/${n}`;
  const t0 = performance.now();
  const proc: Proc = await startRegistrator(s.args(`etcd://${etcd.endpoint}${prefix}`, http), { dockerHost: d.host, runtime: s.runtime, env: { HOME: tempDir("regbench-home-"), ...s.env } });
  const registered = (want: number) =>
    s.api === "local"
      ? waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 30_000, interval: 5, message: `${s.name}: /ready` })
      : waitFor(async () => (await keyCount(etcd, s.api as "v2" | "v3", prefix)) === want, { timeout: 30_000, interval: 5, message: `${s.name}: ${want} keys` });
  try {
    await registered(1);
    const startMs = performance.now() - t0;
    await Bun.sleep(3000);
    const row: Row = { name: s.name, size: s.size, startMs, rss: await sampleRss(proc.pid), anon: statusKib(proc.pid, "RssAnon"), file: statusKib(proc.pid, "RssFile"), hwm: 0 };
    if (s.serve) {
      for (const path of ["/ready", "/metrics", "/v1/status", "/v1/catalog/services"]) {
        for (let i = 0; i < 10; i++) await (await fetch(`http://127.0.0.1:${http}${path}`)).arrayBuffer();
      }
    } else if (s.api !== "local") {
      const ids: string[] = [];
      for (let i = 0; i < CONTAINERS; i++) {
        ids.push(await startPublishedHttpd(d, API));
        await registered(2 + i);
      }
      // One after another: G loses some deregistrations when containers go at once.
      for (const [i, id] of ids.entries()) {
        await (await d.api(`${API}/containers/${id}?force=1`, { method: "DELETE" })).arrayBuffer();
        await registered(CONTAINERS - i);
      }
    }
    if (s.serve || s.api !== "local") {
      await Bun.sleep(3000);
      row.after = { rss: await sampleRss(proc.pid), anon: statusKib(proc.pid, "RssAnon"), file: statusKib(proc.pid, "RssFile") };
    }
    row.hwm = statusKib(proc.pid, "VmHWM");
    return row;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${proc.tail()}`);
  } finally {
    await proc.stop();
  }
}

/** An empty program (a timer, nothing else) compiled the same way: the floor of any Bun executable. */
async function emptyProgram(scratch: string): Promise<Row> {
  const entry = join(scratch, "empty.ts");
  writeFileSync(entry, "setInterval(() => {}, 60_000);\n");
  const outfile = join(scratch, "empty");
  const r = await Bun.build({ entrypoints: [entry], compile: { target: "bun-linux-x64", outfile }, minify: true });
  if (!r.success) throw new Error(`Cannot compile the empty program: ${r.logs.join("; ")}`);
  const proc = spawn([outfile]);
  try {
    await Bun.sleep(1000);
    return {
      name: "empty Bun program, compiled", size: statSync(outfile).size, startMs: NaN, rss: await sampleRss(proc.pid),
      hwm: statusKib(proc.pid, "VmHWM"), anon: statusKib(proc.pid, "RssAnon"), file: statusKib(proc.pid, "RssFile"),
    };
  } finally {
    await proc.stop();
  }
}

async function main(): Promise<void> {
  const scratch = tempDir("regbench-footprint-");
  const binary = opt.get("ours", "") || (await freshBinary(scratch));
  const d = await sharedDockerd();
  const etcd = await startEtcd({ name: "footprint", v2: true });
  const spawnee = await startPublishedHttpd(d, API);
  const size = statSync(binary).size;
  const ours = (name: string, runtime: RegistratorRuntime, api: Subject["api"], extra: Partial<Subject> = {}): Subject => ({
    name, runtime, api, size: typeof runtime === "string" ? undefined : size,
    args: (uri, http) => ["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, api === "local" ? "local://" : api === "v2" ? `${uri}?api=v2` : uri],
    ...extra,
  });
  const subjects: Subject[] = [];
  if (REF) subjects.push({ name: "G (etcd v2)", runtime: { binary: REF }, api: "v2", size: statSync(REF).size, args: (uri) => ["-ip", "127.0.0.1", uri], env: { GL_DISABLE_VERSION_CHECK: "1" } });
  subjects.push(ours("ours, compiled, etcd v2", { binary }, "v2"), ours("ours, compiled, etcd v3", { binary }, "v3"));
  subjects.push(ours("ours, compiled, local:// (then HTTP served)", { binary }, "local", { serve: true }));
  subjects.push(ours("bun src/cli.ts, local://", "bun", "local"));
  if (opt.has("deno")) subjects.push(ours("deno run -A src/cli.ts, local://", "deno", "local"));
  if (opt.has("variants")) {
    const variants = [
      ["--no-bytecode", { bytecode: false }],
      ["normal JIT policy from the start", { jitPolicy: 1 }],
      ["--smol", { smol: true }],
    ] as const;
    for (const [label, o] of variants) {
      const file = await compile("bun-linux-x64", releaseVersion(), { ...o, outfile: join(scratch, `registrator-${label.replace(/\W+/g, "-")}`) });
      subjects.push({ ...ours(`compiled ${label}, local://`, { binary: file }, "local"), size: statSync(file).size });
    }
  }
  const rows: Row[] = [];
  try {
    let n = 0;
    for (const s of subjects) rows.push(await measure(s, d, etcd, n++));
    rows.push(await emptyProgram(scratch));
  } finally {
    await d.api(`${API}/containers/${spawnee}?force=1`, { method: "DELETE" }).catch(() => {});
    await etcd.stop();
  }

  console.log(`\nregistrator footprint — ${machine()}; one container running; after work = ${CONTAINERS} registered one by one, then removed with rm -f one by one, and 3 s`);
  console.log(`ours: ${binary}; G: ${REF ?? "(none)"}\n`);
  printTable([
    ["", "file size", "start → registered", "idle RSS", "RssAnon", "RssFile", "after work RSS", "RssAnon", "RssFile", "peak (VmHWM)"],
    ...rows.map((r) => [
      r.name,
      r.size ? `${(r.size / 1048576).toFixed(1)} MiB` : "–",
      Number.isFinite(r.startMs) ? `${r.startMs.toFixed(0)} ms` : "–",
      mib(r.rss), mib(r.anon), mib(r.file),
      r.after ? mib(r.after.rss) : "–", r.after ? mib(r.after.anon) : "–", r.after ? mib(r.after.file) : "–",
      mib(r.hwm),
    ]),
  ]);
  const g = REF ? rows[0] : undefined;
  if (g?.after) {
    console.log("\ntargets (issue 18), ours vs G on etcd:");
    const t: string[][] = [];
    for (const r of rows.filter((r) => r.name.startsWith("ours, compiled, etcd") && r.after)) {
      t.push([`${r.name}: RSS after work ≤ 30 MiB`, mib(r.after!.rss), r.after!.rss <= 30 * 1024 ? "met" : "NOT met"]);
      t.push([`${r.name}: RssAnon after work ≤ G's + 2 MiB (G ${mib(g.after.anon)})`, mib(r.after!.anon), r.after!.anon <= g.after.anon + 2048 ? "met" : "NOT met"]);
    }
    printTable(t);
  }
}

try {
  await main();
} finally {
  await runTestRunEnd(); // the private dockerd, temp dirs, any child left running
}
