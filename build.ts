#!/usr/bin/env bun
// Release build: compiles src/cli.ts into standalone executables (bun build --compile) and, with
// --image, assembles a FROM-scratch Docker build context in dist/image.
//
//   bun run build.ts                          all targets into dist/
//   bun run build.ts --target linux-x64       one target ("bun-" prefix optional)
//   bun run build.ts --image                  linux-x64 + dist/image (then: docker build dist/image)
//   bun run build.ts --no-bytecode            no JSC bytecode (smaller file, slower start)
//
// The version is baked in as __REGISTRATOR_VERSION__ (read by src/version.ts): REGISTRATOR_VERSION
// or package.json's version, plus "+<git short hash>" when git knows one.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = import.meta.dir;
const DIST = join(ROOT, "dist");
const ENTRY = join(ROOT, "src/cli.ts");
/**
 * Which bytecode a run of the daemon uses, in order (function hashes, no source): the build lays
 * that bytecode out together, so the executable touches fewer of its pages (about 2 MiB less
 * resident). Refresh with `bun run build.ts --record-order`; an older profile still applies.
 */
export const BYTECODE_ORDER = join(ROOT, "bytecode.order");

export const TARGETS = ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-arm64"] as const;
/** Accepted with --target, not built by default (needs musl's loader and libstdc++ at run time). */
const EXTRA_TARGETS = ["bun-linux-x64-musl", "bun-linux-arm64-musl"] as const;
type Target = (typeof TARGETS)[number] | (typeof EXTRA_TARGETS)[number];

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

export function releaseVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const base = process.env.REGISTRATOR_VERSION?.trim() || pkg.version;
  const hash = git(["rev-parse", "--short", "HEAD"]);
  return hash && !base.includes("+") ? `${base}+${hash}` : base;
}

/** A path relative to the repository when inside it. */
function rel(path: string): string {
  return path.startsWith(ROOT + "/") ? path.slice(ROOT.length + 1) : path;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
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
   * JavaScriptCore's tier-up thresholds are multiplied by this until startup is over (the daemon
   * calls Bun.unsafe.setJITPolicy(1) once its connections and HTTP API are up, before the sync):
   * run-once startup code stays in the interpreter instead of being compiled, which saves memory.
   */
  jitPolicy?: number;
  /** false: ignore bytecode.order (to record a new one). */
  bytecodeOrder?: false;
  outfile?: string;
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
      ...((opts.bytecode ?? true) && opts.bytecodeOrder !== false && existsSync(BYTECODE_ORDER) ? { bytecodeOrder: BYTECODE_ORDER } : {}),
    },
    // Each registry backend is a chunk of its own, parsed only when its scheme is used (their
    // imports of node:net and the like are not loaded at startup either).
    splitting: true,
    format: "esm",
    define: { __REGISTRATOR_VERSION__: JSON.stringify(version) },
    minify: true,
    sourcemap: "linked", // embedded (zstd) in the executable: stack traces point at src/
    bytecode: opts.bytecode ?? true,
    throw: false,
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`Cannot compile "${target}": bun build failed (${result.logs.length} messages above)`);
  }
  // The map is embedded (zstd) in the executable; bun also leaves a copy beside it.
  rmSync(`${outfile}.map`, { force: true });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${rel(outfile).padEnd(40)} ${mib(statSync(outfile).size).padStart(10)}  (${target}, ${seconds} s)`);
  return outfile;
}

// ---- Docker image context ---------------------------------------------------------------------

/** The shared libraries and loader a dynamically linked executable needs, from `ldd`. */
export function sharedLibraries(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  if (r.exitCode !== 0) {
    if (/not a dynamic executable|statically linked/.test(text + r.stderr.toString())) return [];
    throw new Error(`Cannot list the libraries of "${binary}": ldd failed: ${r.stderr.toString().trim()}`);
  }
  const libs: string[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.push(m[1]!);
    else if (/not found/.test(line)) throw new Error(`Cannot assemble the image: ${line.trim()}`);
  }
  return libs;
}

const CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/**
 * dist/image: Dockerfile + rootfs/ (bin/registrator, the loader and libraries at the paths ldd
 * reports, a CA bundle, a minimal /etc). `docker build dist/image` needs no pull (FROM scratch).
 */
export function assembleImage(binary: string, context = join(DIST, "image")): string {
  const rootfs = join(context, "rootfs");
  rmSync(context, { recursive: true, force: true });
  const put = (src: string, dest: string, mode?: number) => {
    const to = join(rootfs, dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(realpathSync(src), to); // the file, not the symlink (libc.so.6 -> …)
    if (mode !== undefined) chmodSync(to, mode);
  };
  put(binary, "bin/registrator", 0o755);
  const libs = sharedLibraries(binary);
  for (const lib of libs) put(lib, lib, 0o755);
  const ca = CA_BUNDLES.find((p) => Bun.file(p).size > 0);
  if (!ca) throw new Error(`Cannot assemble the image: no CA bundle at ${CA_BUNDLES.join(" or ")} (install ca-certificates)`);
  put(ca, "etc/ssl/certs/ca-certificates.crt", 0o644);
  const etc = join(rootfs, "etc");
  // Without nsswitch.conf glibc asks DNS before /etc/hosts: "localhost" must not leave the host.
  writeFileSync(join(etc, "nsswitch.conf"), "hosts: files dns\n");
  writeFileSync(join(etc, "passwd"), "root:x:0:0:root:/:/bin/registrator\nnobody:x:65534:65534:nobody:/:/bin/registrator\n");
  writeFileSync(join(etc, "group"), "root:x:0:\nnogroup:x:65534:\n");
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(join(ROOT, "Dockerfile"), join(context, "Dockerfile"));
  writeFileSync(join(context, ".dockerignore"), "Dockerfile\n.dockerignore\n");
  const total = Number(Bun.spawnSync(["du", "-sb", rootfs], { stdout: "pipe" }).stdout.toString().split(/\s/)[0]) || 0;
  console.log(`${(rel(context) + "/").padEnd(40)} ${mib(total).padStart(10)}  (binary, ${libs.length} libraries, CA bundle)`);
  return context;
}

// ---- for tests and benchmarks ------------------------------------------------------------------

/** The newest modification time among the inputs of the executable (src/, package.json, lockfiles). */
export function sourcesMtime(dir = join(ROOT, "src")): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? sourcesMtime(path) : statSync(path).mtimeMs);
  }
  if (dir === join(ROOT, "src")) {
    for (const f of ["package.json", "bun.lock", "package-lock.json", "bytecode.order"]) {
      if (existsSync(join(ROOT, f))) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
    }
  }
  return newest;
}

const fresh = new Map<string, Promise<string>>();

/**
 * A compiled executable for target that matches the current sources: REGISTRATOR_TEST_BINARY if
 * set (linux-x64 only), else dist/'s when it is newer than every source file, else a new compile
 * into scratchDir (never into dist/, which another build may be writing). Memoized per process.
 */
export function freshBinary(scratchDir: string, target: Target = "bun-linux-x64"): Promise<string> {
  const override = process.env.REGISTRATOR_TEST_BINARY;
  if (override && target === "bun-linux-x64") return Promise.resolve(resolve(override));
  let p = fresh.get(target);
  if (!p) {
    const dist = outfileFor(target);
    p = existsSync(dist) && statSync(dist).mtimeMs > sourcesMtime()
      ? Promise.resolve(dist)
      : compile(target, releaseVersion(), { outfile: join(scratchDir, `registrator-${target.replace(/^bun-/, "")}`) });
    fresh.set(target, p);
    p.catch(() => fresh.delete(target));
  }
  return p;
}

// ---- bytecode order profile --------------------------------------------------------------------

/**
 * Records bytecode.order: runs a fresh linux-x64 executable as the daemon (embedded registry)
 * against the emulated Docker Engine of bench/engine.ts with one container, starts and stops
 * another, and stops it with SIGTERM, which writes the profile.
 */
export async function recordBytecodeOrder(): Promise<void> {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error("Cannot record bytecode.order: it needs to run the linux-x64 executable here");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { startEngine } = await import("./bench/engine.ts");
  const dir = mkdtempSync(join(tmpdir(), "registrator-order-"));
  try {
    const binary = await compile("bun-linux-x64", releaseVersion(), { outfile: join(dir, "registrator"), bytecodeOrder: false });
    const engine = startEngine(join(dir, "docker.sock"));
    engine.add({ name: "first", ports: { 80: 8080 }, env: ["SERVICE_TAGS=a,b"] });
    const out = join(dir, "bytecode.order");
    const proc = Bun.spawn([binary, "-ip", "127.0.0.1", "-http", "127.0.0.1:0", "local://"], {
      env: { ...process.env, DOCKER_HOST: engine.host, BUN_BYTECODE_ORDER_OUT: out },
      stdout: "pipe",
      stderr: "pipe",
    });
    const until = async (what: string, done: () => boolean) => {
      for (const deadline = Date.now() + 20_000; !done(); await Bun.sleep(20)) {
        if (Date.now() > deadline) throw new Error(`Cannot record bytecode.order: the executable never ${what}`);
      }
    };
    await until("inspected the running container", () => engine.requests.inspect! >= 1);
    const second = engine.start({ name: "second", ports: { 80: 8081 } });
    await until("inspected a started container", () => engine.requests.inspect! >= 2);
    engine.stop(second.id);
    await until("inspected a stopped container", () => engine.requests.inspect! >= 3);
    await Bun.sleep(200); // the writes that follow
    proc.kill("SIGTERM");
    await proc.exited;
    await engine.close();
    if (!existsSync(out)) throw new Error(`Cannot record bytecode.order: the executable wrote no profile (exit ${proc.exitCode}): ${await new Response(proc.stderr).text()}`);
    copyFileSync(out, BYTECODE_ORDER);
    console.log(`${rel(BYTECODE_ORDER).padEnd(40)} ${readFileSync(out, "utf8").split("\n").length - 1} functions`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- command line -----------------------------------------------------------------------------

function normalizeTarget(value: string): Target {
  const t = value.startsWith("bun-") ? value : `bun-${value}`;
  const known: readonly string[] = [...TARGETS, ...EXTRA_TARGETS];
  if (!known.includes(t)) throw new Error(`Invalid --target "${value}": expected one of ${known.join(", ")}`);
  return t as Target;
}

function usage(): string {
  return [
    "Usage: bun run build.ts [--target <target>] [--image] [--no-bytecode] [--smol] | --record-order",
    `  --target <t>   build only this target (${[...TARGETS, ...EXTRA_TARGETS].join(", ")}; "bun-" optional)`,
    "  --image        build linux-x64 and assemble dist/image, then: docker build -t registrator dist/image",
    "  --no-bytecode  do not precompile JavaScript to bytecode (smaller file, slower start)",
    "  --record-order record bytecode.order (which bytecode a daemon run uses) and exit",
    "  --smol         embed bun's --smol (smaller heap, more GC) as a runtime argument",
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  let only: Target | undefined;
  let image = false;
  let bytecode = true;
  let smol = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return void console.log(usage());
    else if (arg === "--image") image = true;
    else if (arg === "--bytecode") bytecode = true;
    else if (arg === "--no-bytecode") bytecode = false;
    else if (arg === "--record-order") return recordBytecodeOrder();
    else if (arg === "--smol") smol = true;
    else if (arg === "--target") only = normalizeTarget(argv[++i] ?? "");
    else if (arg.startsWith("--target=")) only = normalizeTarget(arg.slice("--target=".length));
    else throw new Error(`Invalid argument "${arg}"\n${usage()}`);
  }
  if (image && only && only !== "bun-linux-x64") throw new Error(`Invalid --target "${only}" with --image: the image holds linux-x64`);
  const version = releaseVersion();
  console.log(`registrator ${version}`);
  const targets: Target[] = only ? [only] : image ? ["bun-linux-x64"] : [...TARGETS];
  const built: string[] = [];
  for (const target of targets) built.push(await compile(target, version, { bytecode, smol }));
  if (image) {
    const context = assembleImage(built[0]!);
    console.log(`\nNext: docker build -t registrator:${version.replace(/\+/g, "-")} ${rel(resolve(context))}`);
  }
}

if (import.meta.main) {
  main(Bun.argv.slice(2)).catch((err) => {
    console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
