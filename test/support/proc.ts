// Process and polling helpers for tests: free ports, deadline-bound polling, temp dirs,
// child processes that capture their output and are stopped by their own PID only.
// This module is preloaded by bunfig.toml so that onTestRunEnd() hooks run once after all files.
import { afterAll } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// ---- free ports --------------------------------------------------------------------------------
//
// A port taken by binding port 0 comes from the kernel's ephemeral range, the same range every
// outgoing connection of every process takes its local port from; between release and use, any
// connect() can take it ("address already in use"). So ports are handed out below that range,
// each reserved for the whole run with a lock file (O_EXCL, holding our PID) shared by every test
// process on the machine, never twice within one process, and only after a bind on all interfaces
// succeeded (Docker publishes -p host ports there).

const PORT_LOCKS = join(tmpdir(), "regtest-ports");
const handedOut = new Set<number>();

/** [first, last] ports to hand out: the 12,000 below the ephemeral range, or undefined when there is no room. */
function portRange(): [number, number] | undefined {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: assume its default range.
  }
  const first = Math.max(10_000, low - 12_000);
  return low - first >= 1000 ? [first, low - 1] : undefined;
}

/** Whether a process with this PID exists (ours or not). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the machine-wide reservation of port (reclaiming one whose owner process is gone). */
function reservePort(port: number): boolean {
  const lock = join(PORT_LOCKS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(lock, "utf8")) || 0;
    } catch {
      continue; // released meanwhile
    }
    if (owner === process.pid || (owner && pidAlive(owner))) return false;
    // A dead owner's lock, or a half-written one older than a minute.
    if (!owner && Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs < 60_000) return false;
    rmSync(lock, { force: true });
  }
  return false;
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("Cannot find a free port"))));
    });
  });
}

/**
 * A TCP port free on every interface, reserved for this test process until it exits: no other
 * caller of freePort() on this machine gets it, and no outgoing connection takes it meanwhile.
 */
export async function freePort(): Promise<number> {
  const range = portRange();
  if (!range) return ephemeralPort();
  mkdirSync(PORT_LOCKS, { recursive: true });
  const [first, last] = range;
  const size = last - first + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = first + ((start + i) % size);
    if (handedOut.has(port) || !reservePort(port)) continue;
    handedOut.add(port);
    if ((await canBind(port, "0.0.0.0")) && (await canBind(port, "127.0.0.1"))) return port;
    // Busy outside the tests' reservations: keep it reserved (and skipped) for this run.
  }
  throw new Error(`Cannot find a free port in ${first}-${last}`);
}

export interface WaitOptions {
  /** Deadline in ms (default 10000). */
  timeout?: number;
  /** Pause between attempts in ms (default 50). */
  interval?: number;
  /** What we were waiting for; used as the error message. */
  message?: string;
}

/** T without the falsy values waitFor keeps polling on. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/** Calls fn until it returns a truthy value without throwing; throws after the deadline. */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const { timeout = 10_000, interval = 50, message = "Condition not met" } = opts;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as Truthy<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await Bun.sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const reason = lastError !== undefined ? errorText(lastError) : `last value ${JSON.stringify(lastValue)}`;
  throw new Error(`${message} (after ${timeout} ms): ${reason}`, { cause: lastError });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A fresh directory under `parent` (the system temp dir by default); removed by removeDir() or at the end of the run. */
export function tempDir(prefix = "regtest-", parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  onTestRunEnd(() => removeDir(dir));
  return dir;
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

// ---- once-per-run teardown -------------------------------------------------------------------

type Cleanup = () => unknown | Promise<unknown>;
const cleanups: Cleanup[] = [];

/** Registers fn to run once after all test files (reverse order of registration). */
export function onTestRunEnd(fn: Cleanup): void {
  cleanups.push(fn);
}

/** Runs the registered teardown now (also called by the global afterAll). Errors are logged. */
export async function runTestRunEnd(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error(`Test teardown failed: ${errorText(err)}`);
    }
  }
  // Children a test forgot to stop (stopped by their own PID).
  for (const proc of [...live]) await proc.stop().catch((e) => console.error(`Cannot stop pid ${proc.pid}: ${errorText(e)}`));
}

try {
  // Global when this module is preloaded (bunfig.toml); scoped to the first importing file otherwise.
  afterAll(runTestRunEnd, 120_000);
} catch {
  // Not under `bun test` (a script or benchmark imported us): callers clean up themselves.
}

// ---- child processes -------------------------------------------------------------------------

export interface ProcOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** "pipe" to write to the child with proc.write(); default "ignore". */
  stdin?: "pipe" | "ignore";
  /** Send stdout+stderr to this file (appended) instead of capturing lines: for daemons that must
   * outlive a broken pipe (Go programs die of SIGPIPE when their stderr reader goes away). */
  logFile?: string;
  /** Echo captured lines to the test's stderr, prefixed with this label (or REGISTRATOR_TEST_ECHO=1). */
  echo?: string | boolean;
}

type Waiter = { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void };

const live = new Set<Proc>();

/** A child process started with Bun.spawn; stdout/stderr lines are kept in arrays. */
export class Proc {
  readonly pid: number;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  /** stdout and stderr lines in arrival order. */
  readonly lines: string[] = [];
  readonly exited: Promise<number>;
  exitCode: number | null = null;
  private readonly child: ReturnType<typeof Bun.spawn>;
  private waiters = new Set<Waiter>();
  private readers: Promise<void>[] = [];
  private readonly label: string;

  constructor(readonly cmd: string[], opts: ProcOptions = {}) {
    const fd = opts.logFile ? openSync(opts.logFile, "a") : undefined;
    try {
      this.child = Bun.spawn(cmd, {
        env: opts.env ?? (process.env as Record<string, string>),
        cwd: opts.cwd,
        stdin: opts.stdin ?? "ignore",
        stdout: fd ?? "pipe",
        stderr: fd ?? "pipe",
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.pid = this.child.pid;
    const echo = opts.echo ?? (process.env.REGISTRATOR_TEST_ECHO === "1" ? true : undefined);
    this.label = typeof echo === "string" ? echo : echo ? cmd.slice(0, 2).join(" ") : "";
    if (fd === undefined) {
      this.readers.push(this.read(this.child.stdout as ReadableStream<Uint8Array>, this.stdout));
      this.readers.push(this.read(this.child.stderr as ReadableStream<Uint8Array>, this.stderr));
    }
    live.add(this);
    this.exited = this.child.exited.then(async (code) => {
      await Promise.allSettled(this.readers);
      this.exitCode = code;
      live.delete(this);
      for (const w of this.waiters) w.reject(new Error(`Process ${this.describe()} exited (${code}) before printing ${w.re}`));
      this.waiters.clear();
      return code;
    });
  }

  get running(): boolean {
    return this.exitCode === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The current number of lines: pass it to waitForLine() to ignore what came before. */
  mark(): number {
    return this.lines.length;
  }

  /** Resolves with the match of the first line (from line index `from`) matching re. */
  waitForLine(re: RegExp, timeout = 10_000, from = 0): Promise<RegExpMatchArray> {
    for (let i = from; i < this.lines.length; i++) {
      const m = this.lines[i]!.match(re);
      if (m) return Promise.resolve(m);
    }
    if (!this.running && this.exitCode !== null) {
      return Promise.reject(new Error(`Process ${this.describe()} exited (${this.exitCode}) before printing ${re}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        re, from,
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`No line matching ${re} from ${this.describe()} within ${timeout} ms; last lines:\n${this.tail()}`));
      }, timeout);
      this.waiters.add(waiter);
    });
  }

  write(text: string): void {
    const sink = this.child.stdin;
    if (!sink || typeof sink === "number") throw new Error(`Process ${this.describe()} has no stdin pipe`);
    sink.write(text);
    sink.flush();
  }

  closeStdin(): void {
    const sink = this.child.stdin;
    if (sink && typeof sink !== "number") sink.end();
  }

  /** Sends signal to this PID (only), then SIGKILL after timeoutMs; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number> {
    if (this.running) this.child.kill(signal);
    let timer: Timer | undefined;
    const deadline = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const first = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (first !== "timeout") return first;
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  /** The last n captured lines, for error messages. */
  tail(n = 20): string {
    return this.lines.slice(-n).join("\n");
  }

  describe(): string {
    return `${this.pid} (${this.cmd.slice(0, 3).join(" ")})`;
  }

  private async read(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    const reader = stream.getReader();
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.push(line, into);
    }
    rest += decoder.decode();
    if (rest) this.push(rest, into);
  }

  private push(line: string, into: string[]): void {
    into.push(line);
    this.lines.push(line);
    if (this.label) console.error(`[${this.label}] ${line}`);
    const index = this.lines.length - 1;
    for (const w of this.waiters) {
      if (index < w.from) continue;
      const m = line.match(w.re);
      if (m) {
        this.waiters.delete(w);
        w.resolve(m);
      }
    }
  }
}

/** Starts cmd as a child process (see Proc). */
export function spawn(cmd: string[], opts: ProcOptions = {}): Proc {
  return new Proc(cmd, opts);
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Bytes or text fed to the command's stdin. */
  stdin?: Uint8Array | string;
}

/** Runs cmd to completion; returns stdout, throws with stderr on a non-zero exit. */
export async function run(cmd: string[], opts: RunOptions = {}): Promise<string> {
  const stdin = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
  const child = Bun.spawn(cmd, {
    env: opts.env ?? (process.env as Record<string, string>), cwd: opts.cwd, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`Command "${cmd.join(" ")}" failed (exit ${code}): ${err.trim() || out.trim()}`);
  return out;
}

// ---- one shared instance of a test service per run ---------------------------------------------

/**
 * A lazily started instance shared by every test file of the run and stopped after the last one;
 * a failed start is forgotten so the next caller tries again. `stop()` on it also forgets it.
 */
export function sharedInstance<T extends { stop(): Promise<void> }>(start: () => Promise<T>): () => Promise<T> {
  let shared: Promise<T> | undefined;
  return () => {
    if (shared) return shared;
    const current: Promise<T> = start().then((instance) => {
      const inner = instance.stop.bind(instance);
      // Assigned, not spread: instances may carry getters (a pid that changes on restart()).
      instance.stop = async () => {
        if (shared === current) shared = undefined;
        await inner();
      };
      onTestRunEnd(() => instance.stop());
      return instance;
    });
    current.catch(() => {
      if (shared === current) shared = undefined;
    });
    shared = current;
    return current;
  };
}

/**
 * Why tests needing `what` cannot run here, or false when they can. Under CI=true always false:
 * the tests then run and fail loudly. Elsewhere the first call tries `start` and prints a loud SKIP.
 */
export function skipUnless(what: string, start: () => Promise<unknown>): () => Promise<string | false> {
  let reason: Promise<string | false> | undefined;
  return () =>
    (reason ??= (async () => {
      if (process.env.CI === "true" || process.env.CI === "1") return false;
      try {
        await start();
        return false;
      } catch (err) {
        const why = errorText(err);
        console.error(`\n*** SKIPPING ${what} tests: ${why}\n`);
        return why;
      }
    })());
}
