// Runs the registrator CLI as a child process (bun, deno, or a compiled binary) against a Docker
// daemon, capturing its log lines in a Proc.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Proc } from "./proc.ts";

export const REPO_ROOT = resolve(import.meta.dir, "../..");

export type RegistratorRuntime = "bun" | "deno" | { binary: string };

export interface RegistratorOptions {
  /** DOCKER_HOST for the child, e.g. dockerd.host. */
  dockerHost: string;
  /** Extra environment (wins over the inherited one; undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** Default "bun" (or REGISTRATOR_TEST_RUNTIME=bun|deno|<path to a binary>). */
  runtime?: RegistratorRuntime;
  /** Script to run instead of src/cli.ts (relative to the repo root or absolute). */
  entry?: string;
  /** Resolve only after a log line matches this (the Proc is stopped if it never does). */
  ready?: RegExp;
  readyTimeout?: number;
  /** Echo the child's lines to stderr with this label. */
  echo?: string | boolean;
}

function bunBinary(): string {
  if (process.versions.bun && process.execPath) return process.execPath;
  return join(REPO_ROOT, "node_modules/.bin/bun");
}

function denoBinary(): string {
  const local = join(REPO_ROOT, "node_modules/.bin/deno");
  return existsSync(local) ? local : (Bun.which("deno") ?? local);
}

function defaultRuntime(): RegistratorRuntime {
  const env = process.env.REGISTRATOR_TEST_RUNTIME;
  if (!env || env === "bun" || env === "deno") return (env as "bun" | "deno" | undefined) ?? "bun";
  return { binary: env };
}

/** The command line that runs registrator with args under the given runtime. */
export function registratorCommand(args: string[], runtime: RegistratorRuntime = defaultRuntime(), entry = "src/cli.ts"): string[] {
  const script = resolve(REPO_ROOT, entry);
  if (runtime === "bun") return [bunBinary(), script, ...args];
  if (runtime === "deno") return [denoBinary(), "run", "-A", script, ...args];
  return [runtime.binary, ...args];
}

/** Starts registrator with DOCKER_HOST set; the caller stops it with proc.stop(). */
export async function startRegistrator(args: string[], opts: RegistratorOptions): Promise<Proc> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) {
    // The harness's own settings are not registrator configuration.
    if (key.startsWith("REGISTRATOR_TEST_") || key === "DOCKER_CONTEXT") delete env[key];
  }
  Object.assign(env, { DOCKER_HOST: opts.dockerHost, DENO_NO_UPDATE_CHECK: "1" }, opts.env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const proc = new Proc(registratorCommand(args, opts.runtime, opts.entry), { env, cwd: REPO_ROOT, echo: opts.echo });
  if (opts.ready) {
    try {
      await proc.waitForLine(opts.ready, opts.readyTimeout ?? 20_000);
    } catch (err) {
      await proc.stop("SIGKILL");
      throw err;
    }
  }
  return proc;
}

/**
 * Resolves once a daemon started with `args` has its HTTP API up (or has given up on it), at once
 * when `-http ""` disabled it. The API binds once the first registration is written or the first
 * sync is done, which can be after "Connected to Docker": a test that calls it right away waits.
 */
export async function waitForHttpApi(p: Proc, args: string[]): Promise<void> {
  const off = args.some((a, i) => (/^--?http$/.test(a) && args[i + 1] === "") || /^--?http=$/.test(a));
  if (!off) await p.waitForLine(/HTTP API (on|disabled)/, 30_000);
}
