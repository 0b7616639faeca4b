// Where the build reads and writes, and how it names those places in its output.
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const DIST = join(ROOT, "dist");
export const ENTRY = join(ROOT, "src/cli.ts");

/** A path relative to the repository when inside it. */
export function rel(path: string): string {
  return path.startsWith(ROOT + "/") ? path.slice(ROOT.length + 1) : path;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
