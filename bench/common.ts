// What the benches share: percentiles, the machine's load, /proc figures, page-cache control,
// NDJSON streams, tables.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { ndjsonLines } from "../src/docker/client.ts";
import type { Dockerd } from "../test/support/docker.ts";
import { freePort } from "../test/support/proc.ts";

/** The p-th percentile (0–100) of xs, interpolated; NaN for none. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export const median = (xs: number[]) => percentile(xs, 50);

/** The 1, 5 and 15 minute load averages. */
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** "2 CPUs, <model>": the machine line every bench prints. */
export const machine = () => `${cpus().length} CPUs, ${cpus()[0]?.model ?? "unknown CPU"}`;

/** Newline-delimited JSON objects from a streaming response body. */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  for await (const line of ndjsonLines(body)) yield JSON.parse(line);
}

/** Wall-clock now in ns, sub-millisecond (the same clock as Docker's timeNano on this host). */
export const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** A field of /proc/<pid>/status in KiB (VmRSS, RssAnon, RssFile, VmHWM). */
export function statusKib(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!m) throw new Error(`No ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Milliseconds a process's threads have spent on a CPU and waiting for one on a run queue, summed
 * over its threads (/proc/<pid>/task/<tid>/schedstat; needs schedstats in the kernel, else NaN).
 * A tail that is mostly waiting is the machine's load, not the process's work.
 */
export function schedMs(pid: number): { onCpu: number; waiting: number } {
  let onCpu = 0;
  let waiting = 0;
  let seen = false;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      onCpu += run! / 1e6;
      waiting += wait! / 1e6;
      seen = true;
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return seen ? { onCpu, waiting } : { onCpu: NaN, waiting: NaN };
}

let clockTicks: number | undefined;

/** CPU seconds a process has used so far (user + system, /proc/<pid>/stat utime + stime). */
export function cpuSeconds(pid: number): number {
  clockTicks ??= Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces and parentheses: count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // fields 14 and 15 of stat
}

/**
 * CPU milliseconds a process's live threads have run (the scheduler's sum_exec_runtime of each
 * task in /proc/<pid>/task/<tid>/sched), sub-millisecond, unlike stat's clock ticks; threads that
 * already ended are not counted.
 */
export function cpuMs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^se\.sum_exec_runtime\s*:\s*([\d.]+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, "utf8"));
      if (m) total += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

export const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Bytes of file held in the page cache (util-linux fincore), or undefined without fincore. */
export function residentBytes(file: string): number | undefined {
  const r = Bun.spawnSync(["fincore", "--bytes", "--noheadings", "--output", "RES", file], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return undefined;
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Drops file's pages from the page cache, so the next start reads it from disk as on a machine
 * that has not run it since boot: GNU dd with oflag=nocache and count=0 asks the kernel to forget
 * the whole file (posix_fadvise POSIX_FADV_DONTNEED, this file only, no privilege needed; pages
 * a running process maps stay). Returns the method and what stayed resident.
 */
export function dropFromPageCache(file: string): { method: string; residentAfter?: number } {
  const method = "posix_fadvise(DONTNEED) via dd oflag=nocache count=0";
  const r = Bun.spawnSync(["dd", `of=${file}`, "oflag=nocache", "conv=notrunc,fdatasync", "count=0", "status=none"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`Cannot drop ${file} from the page cache: dd: ${r.stderr.toString().trim()}`);
  return { method, residentAfter: residentBytes(file) };
}

/** gliderlabs/registrator v7.4.0 from ../shared/anchors (README there), when present. */
export function defaultReference(root: string): string | undefined {
  const path = resolve(root, "../shared/anchors/registrator-v7.4.0");
  return existsSync(path) ? path : undefined;
}

/** Prints rows as aligned columns: the first left-aligned, the rest right-aligned. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd());
}

/** Command-line options: `--name value`, `--flag`. */
export function options(argv: string[]) {
  return {
    get: (name: string, fallback: string) => {
      const i = argv.indexOf(`--${name}`);
      return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
    },
    has: (name: string) => argv.includes(`--${name}`),
  };
}

/** A busybox httpd with port 80 published on a free host port, created and started; its ID. */
export async function startPublishedHttpd(d: Dockerd, api = "/v1.41"): Promise<string> {
  const port = await freePort();
  const res = await d.api(`${api}/containers/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ Image: d.image, Cmd: ["httpd", "-f", "-p", "80", "-h", "/www"], ExposedPorts: { "80/tcp": {} }, HostConfig: { PortBindings: { "80/tcp": [{ HostPort: String(port) }] } } }),
  });
  const { Id } = (await res.json()) as { Id: string };
  const started = await d.api(`${api}/containers/${Id}/start`, { method: "POST" });
  if (started.status !== 204) throw new Error(`Cannot start a container: ${started.status}`);
  return Id;
}
