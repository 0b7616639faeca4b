import { networkInterfaces } from "node:os";
import type { NetInterfaces } from "./types.ts";

/** node:os networkInterfaces() (Bun and Deno both have it), with `family` always a string: older Node typings allow 4 | 6. */
export function listInterfaces(): NetInterfaces {
  const out: Record<string, Array<{ address: string; family: "IPv4" | "IPv6"; internal: boolean }>> = {};
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    out[name] = (addrs ?? []).map((a) => ({
      address: a.address,
      family: String(a.family) === "4" || a.family === "IPv4" ? "IPv4" : "IPv6",
      internal: a.internal,
    }));
  }
  return out;
}
