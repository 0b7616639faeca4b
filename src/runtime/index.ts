import { bunRuntime } from "./bun.ts";
import { denoRuntime } from "./deno.ts";
import type { Runtime } from "./types.ts";

export type { NetInterfaces, Runtime, TlsOptions, Server, ServeOptions } from "./types.ts";

let current: Runtime | undefined;

/** The runtime we run on, detected once from the globals. */
export function runtime(): Runtime {
  if (!current) {
    const g = globalThis as Record<string, unknown>;
    if (g.Bun) current = bunRuntime();
    else if (g.Deno) current = denoRuntime();
    else throw new Error("registrator runs on Bun or Deno");
  }
  return current;
}
