#!/usr/bin/env bun
// Footprint: the compiled executable's size, and idle RSS of registrator against a private dockerd
// with the embedded registry, for the compiled executable and for `bun src/cli.ts`, next to an
// empty compiled Bun program (what any Bun executable costs), with issue 8's targets.
//
//   bun bench/footprint.ts [--seconds 5] [--deno] [--variants]
//
// --variants also compiles and measures build options: no bytecode, the normal JIT policy from the
// start, --smol.
//
// Idle RSS: start, wait for /ready and 3 s more (the daemon pages out what only its startup ran a
// second after its first sync, src/runtime/trim.ts), then sample VmRSS from /proc/<pid>/status
// every 500 ms for ~5 s and take the median; peak is VmHWM. Then the same after it has served its
// HTTP API (10 × /ready, /metrics, /v1/status and /v1/catalog/services): what a scraped daemon
// holds. Prints a table; asserts nothing.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { compile, releaseVersion } from "../build/compile.ts";
import { freshBinary } from "../build/fresh.ts";
import { sharedDockerd } from "../test/support/docker.ts";
import { freePort, runTestRunEnd, spawn, tempDir, waitFor } from "../test/support/proc.ts";
import { startRegistrator, type RegistratorRuntime } from "../test/support/registrator.ts";

const argv = Bun.argv.slice(2);
const seconds = Number(argv[argv.indexOf("--seconds") + 1]) || 5;
const withDeno = argv.includes("--deno");
const withVariants = argv.includes("--variants");

function kib(field: string, pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!m) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

interface Row { name: string; size?: number; startMs: number; rss: number; min: number; max: number; hwm: number; anon: number; file: number; served?: number }

async function measure(name: string, runtime: RegistratorRuntime, dockerHost: string, size?: number): Promise<Row> {
  const http = await freePort();
  const t0 = performance.now();
  const proc = await startRegistrator(["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, "local://"], {
    dockerHost, runtime, env: { HOME: tempDir("regbench-home-") },
  });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 30_000, interval: 10, message: `${name}: /ready` });
    const startMs = performance.now() - t0;
    await Bun.sleep(3000);
    const n = Math.max(3, Math.round(seconds * 2));
    const sample = async () => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        xs.push(kib("VmRSS", proc.pid));
        await Bun.sleep(500);
      }
      return xs;
    };
    const samples = await sample();
    const row: Row = {
      name, size, startMs, rss: median(samples), min: Math.min(...samples), max: Math.max(...samples),
      hwm: kib("VmHWM", proc.pid), anon: kib("RssAnon", proc.pid), file: kib("RssFile", proc.pid),
    };
    for (const path of ["/ready", "/metrics", "/v1/status", "/v1/catalog/services"]) {
      for (let i = 0; i < 10; i++) {
        await (await fetch(`http://127.0.0.1:${http}${path}`)).arrayBuffer();
        await Bun.sleep(50);
      }
    }
    row.served = median(await sample());
    row.hwm = kib("VmHWM", proc.pid);
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
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(kib("VmRSS", proc.pid));
      await Bun.sleep(200);
    }
    return {
      name: "empty Bun program, compiled", size: statSync(outfile).size, startMs: NaN, rss: median(samples), min: Math.min(...samples), max: Math.max(...samples),
      hwm: kib("VmHWM", proc.pid), anon: kib("RssAnon", proc.pid), file: kib("RssFile", proc.pid),
    };
  } finally {
    await proc.stop();
  }
}

async function main(): Promise<void> {
  const scratch = tempDir("regbench-footprint-");
  const binary = await freshBinary(scratch);
  const d = await sharedDockerd();
  const rows: Row[] = [];
  rows.push(await measure("compiled (bun run build.ts)", { binary }, d.host, statSync(binary).size));
  rows.push(await measure("bun src/cli.ts", "bun", d.host));
  rows.push(await emptyProgram(scratch));
  if (withVariants) {
    const variants = [
      ["--no-bytecode", { bytecode: false }],
      ["normal JIT policy from the start", { jitPolicy: 1 }],
      ["--smol", { smol: true }],
    ] as const;
    for (const [label, opts] of variants) {
      const file = await compile("bun-linux-x64", releaseVersion(), { ...opts, outfile: join(scratch, `registrator-${label.replace(/\W+/g, "-")}`) });
      rows.push(await measure(`compiled, ${label}`, { binary: file }, d.host, statSync(file).size));
    }
  }
  if (withDeno) rows.push(await measure("deno run -A src/cli.ts", "deno", d.host));

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`\nregistrator footprint — ${cpus().length} CPUs, ${cpu}; idle = embedded registry, no containers`);
  console.log(`binary: ${binary}\n`);
  const header = ["variant", "file size", "start→/ready", `idle RSS (median of ${Math.max(3, Math.round(seconds * 2))})`, "min–max", "anon / file-backed", "after serving HTTP", "peak (VmHWM)"];
  const table = rows.map((r) => [
    r.name,
    r.size ? `${(r.size / 1024 / 1024).toFixed(1)} MiB` : "–",
    Number.isFinite(r.startMs) ? `${r.startMs.toFixed(0)} ms` : "–",
    mib(r.rss),
    `${mib(r.min)}–${mib(r.max)}`,
    `${mib(r.anon)} / ${mib(r.file)}`,
    r.served ? mib(r.served) : "–",
    mib(r.hwm),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const t of table) console.log(line(t));
  const [compiled, source, empty] = rows;
  if (compiled && source) console.log(`\ncompiled vs bun src/cli.ts: RSS ${(compiled.rss / source.rss).toFixed(2)}×, start ${(compiled.startMs / source.startMs).toFixed(2)}×`);
  if (compiled && empty) console.log(`compiled above the empty Bun program: ${mib(compiled.rss - empty.rss)} (anon ${mib(compiled.anon - empty.anon)}, file-backed ${mib(compiled.file - empty.file)})`);
  if (compiled) {
    console.log("");
    console.log(`target: idle RSS, compiled ≤ 34 MiB (G 8.7)   ${mib(compiled.rss).padEnd(9)}  ${compiled.rss <= 34 * 1024 ? "met" : "NOT met"}`);
    console.log(`target: peak RSS, compiled ≤ 44 MiB (G 12.7)  ${mib(compiled.hwm).padEnd(9)}  ${compiled.hwm <= 44 * 1024 ? "met" : "NOT met"}`);
    if (compiled.served) console.log(`(after serving its HTTP API: ${mib(compiled.served)})`);
  }
}

try {
  await main();
} finally {
  await runTestRunEnd(); // the private dockerd, temp dirs, any child left running
}
