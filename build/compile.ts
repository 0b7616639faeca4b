// Compiling src/cli.ts into a standalone executable for one target (bun build --compile).
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { BYTECODE_ORDER } from "./bytecode-order.ts";
import { DIST, ENTRY, ROOT, mib, rel } from "./paths.ts";

export const TARGETS = ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-arm64"] as const;
/** Accepted with --target, not built by default (needs musl's loader and libstdc++ at run time). */
export const EXTRA_TARGETS = ["bun-linux-x64-musl", "bun-linux-arm64-musl"] as const;
export type Target = (typeof TARGETS)[number] | (typeof EXTRA_TARGETS)[number];

/**
 * The target this machine runs (linux-arm64 on arm64, else linux-x64): the image holds it, since
 * its libraries are copied from this machine (ldd).
 */
export function hostTarget(): Target {
  return process.arch === "arm64" ? "bun-linux-arm64" : "bun-linux-x64";
}

/** dist/registrator-linux-x64 for bun-linux-x64, and so on. */
export function outfileFor(target: string): string {
  return join(DIST, `registrator-${target.replace(/^bun-/, "")}`);
}

function git(args: string[]): string | undefined {
  try {
    const r = Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? r.stdout.toString().trim() || undefined : undefined;
  } catch {
    return undefined; // no git binary
  }
}

/** REGISTRATOR_VERSION or package.json's version, plus "+<git short hash>" when git knows one. */
export function releaseVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const base = process.env.REGISTRATOR_VERSION?.trim() || pkg.version;
  const hash = git(["rev-parse", "--short", "HEAD"]);
  return hash && !base.includes("+") ? `${base}+${hash}` : base;
}

/** See CompileOptions.jitPolicy; measured with bench/footprint.ts and bench/scale.ts. */
export const STARTUP_JIT_POLICY = 8;

export interface CompileOptions {
  /**
   * Precompile to JavaScriptCore bytecode (default): the executable does not parse its JavaScript
   * when it starts, which halves spawn → first registration (bench/latency.ts).
   */
  bytecode?: boolean;
  /** Embed --smol (a smaller heap, more frequent GC) as the executable's runtime argument. */
  smol?: boolean;
  /**
   * JavaScriptCore's tier-up thresholds are multiplied by this for the life of the process:
   * run-once startup code stays in the interpreter instead of being compiled, and the daemon's
   * few events a second cost less CPU and memory interpreted than compiled by the optimizing
   * tiers (src/runtime/bun.ts, settled).
   */
  jitPolicy?: number;
  /** false: ignore bytecode.order (to record a new one). */
  bytecodeOrder?: false;
  outfile?: string;
}

/** Whether this build lays its bytecode out by bytecode.order. */
export function usesBytecodeOrder(opts: CompileOptions): boolean {
  return (opts.bytecode ?? true) && opts.bytecodeOrder !== false && existsSync(BYTECODE_ORDER);
}

export async function compile(target: Target, version: string, opts: CompileOptions = {}): Promise<string> {
  const outfile = opts.outfile ?? outfileFor(target);
  mkdirSync(dirname(outfile), { recursive: true });
  const started = performance.now();
  const result = await Bun.build({
    entrypoints: [ENTRY],
    compile: {
      target,
      outfile,
      // A daemon's configuration is its flags and REGISTRATOR_* env: never a stray .env or
      // bunfig.toml in whatever directory it happens to start in.
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(opts.smol ? { execArgv: ["--smol"] } : {}),
      jitPolicy: opts.jitPolicy ?? STARTUP_JIT_POLICY,
      bytecodeOrder: usesBytecodeOrder(opts) && BYTECODE_ORDER,
    },
    // Each registry backend is a chunk of its own, parsed only when its scheme is used (their
    // imports of node:net and the like are not loaded at startup either).
    splitting: true,
    format: "esm",
    define: { __REGISTRATOR_VERSION__: JSON.stringify(version) },
    minify: true,
    // No source map: embedded, it is read at every start (about 4 ms of `-version`, bench/startup.ts);
    // registrator's messages never carry a stack, and `bun src/cli.ts` gives one with src/ lines.
    sourcemap: "none",
    bytecode: opts.bytecode ?? true,
    throw: false,
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`Cannot compile "${target}": bun build failed (${result.logs.length} messages above)`);
  }
  // Warnings too (bun says so here when bytecode.order matches nothing in this build).
  for (const log of result.logs) console.warn(`${target}: ${log.level}: ${log.message}`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${rel(outfile).padEnd(40)} ${mib(statSync(outfile).size).padStart(10)}  (${target}, ${seconds} s)`);
  return outfile;
}
