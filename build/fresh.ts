// For tests and benchmarks: an executable built from the sources as they are now.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { compile, outfileFor, releaseVersion, type Target } from "./compile.ts";
import { ROOT } from "./paths.ts";

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
