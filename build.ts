#!/usr/bin/env bun
// Release build: compiles src/cli.ts into standalone executables (bun build --compile) and, with
// --image, assembles a FROM-scratch Docker build context in dist/image.
//
//   bun run build.ts                          all targets into dist/
//   bun run build.ts --target linux-x64       one target ("bun-" prefix optional)
//   bun run build.ts --image                  this machine's target + dist/image (then: docker build dist/image)
//   bun run build.ts --no-bytecode            no JSC bytecode (smaller file, slower start)
//   bun run build.ts --record-order           record bytecode.order again
//
// The version is baked in as __REGISTRATOR_VERSION__ (read by src/version.ts): REGISTRATOR_VERSION
// or package.json's version, plus "+<git short hash>" when git knows one.
//
// One job per module under build/: compile.ts (bun build --compile), image.ts (the image
// context), bytecode-order.ts (the profile and how much of it still matches), record-order.ts
// (recording it, the one part that uses bench/), args.ts (this command line), fresh.ts (an
// up-to-date executable for tests and benchmarks).
import { resolve } from "node:path";
import { parseArgs, usage } from "./build/args.ts";
import { describeMatch, matchProfile } from "./build/bytecode-order.ts";
import { compile, hostTarget, releaseVersion, TARGETS, usesBytecodeOrder, type Target } from "./build/compile.ts";
import { assembleImage } from "./build/image.ts";
import { rel } from "./build/paths.ts";

// What the tests and benchmarks have always imported from here.
export { compile, outfileFor, releaseVersion, STARTUP_JIT_POLICY, TARGETS, type CompileOptions } from "./build/compile.ts";
export { assembleImage, sharedLibraries } from "./build/image.ts";
export { freshBinary, sourcesMtime } from "./build/fresh.ts";

/** The target among those built that this machine can run (to check the profile with). */
function runnableHere(built: Map<Target, string>): string | undefined {
  if (process.platform !== "linux") return undefined;
  const mine: Target[] = process.arch === "x64" ? ["bun-linux-x64", "bun-linux-x64-baseline"] : process.arch === "arm64" ? ["bun-linux-arm64"] : [];
  return mine.map((t) => built.get(t)).find((b) => b !== undefined);
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.help) return void console.log(usage());
  if (args.recordOrder) return (await import("./build/record-order.ts")).recordBytecodeOrder();
  const version = releaseVersion();
  console.log(`registrator ${version}`);
  const targets: Target[] = args.target ? [args.target] : args.image ? [hostTarget()] : [...TARGETS];
  const built = new Map<Target, string>();
  for (const target of targets) built.set(target, await compile(target, version, { bytecode: args.bytecode, smol: args.smol }));
  if (usesBytecodeOrder({ bytecode: args.bytecode })) {
    const probe = runnableHere(built);
    console.log(probe ? describeMatch(matchProfile(probe)) : "bytecode.order: not checked (no target built runs on this machine)");
  }
  if (args.image) {
    const context = assembleImage(built.get(hostTarget())!);
    console.log(`\nNext: docker build -t registrator:${version.replace(/\+/g, "-")} ${rel(resolve(context))}`);
  }
}

if (import.meta.main) {
  main(Bun.argv.slice(2)).catch((err) => {
    console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
