// Reserving a private test subnet (10.<b>.N.0/24) across processes: one lock directory per N,
// holding the PID of the owner's watchdog ("owner") and the instance's temp dir ("dir"). A lock
// whose owner is dead is reclaimed, after the instance it names has been cleaned up.
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pidAlive, run } from "./proc.ts";


export interface SubnetOptions {
  /** Directory holding one lock directory per index. */
  locks: string;
  /** The second octet of 10.<b>.N.0/24. */
  octet: number;
  /** Candidate values of N. */
  indexes: number[];
  /** The bridge interface name used for index N (a leftover one is deleted). */
  bridge: (index: number) => string;
  /** The PID file, inside an instance's dir, of the process that still uses a stale lock's subnet. */
  pidFile: string;
  /** Cleans up what a dead instance left in its dir. */
  reclaim: (dir: string, bridge: string) => void;
  /** For the error message: "dockerd", "podman". */
  what: string;
}

export interface Subnet {
  index: number;
  bridge: string;
  gateway: string;
  subnet: string;
  lock: string;
}

export function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function takeLock(lock: string, bridge: string, o: SubnetOptions): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch {
    // Held: stale when the owner (the watchdog) is dead, or no owner was recorded for a minute.
    const owner = Number(readOr(join(lock, "owner"), "0"));
    const stale = owner ? !pidAlive(owner) : Date.now() - mtime(lock) > 60_000;
    if (!stale) return false;
    const dir = readOr(join(lock, "dir"), "");
    const user = Number(readOr(join(dir, o.pidFile), "0"));
    if (dir && user && pidAlive(user)) return false;
    if (dir) o.reclaim(dir, bridge);
    rmSync(lock, { recursive: true, force: true });
    return takeLock(lock, bridge, o);
  }
}

/** Takes the lock of a free 10.<octet>.N.0/24 (no route to it on this host) in random order. */
export async function reserveSubnet(o: SubnetOptions): Promise<Subnet> {
  mkdirSync(o.locks, { recursive: true });
  const routes = await run(["ip", "-4", "route", "show"]);
  const order = [...o.indexes].sort(() => Math.random() - 0.5);
  for (const index of order) {
    const net: Subnet = {
      index,
      bridge: o.bridge(index),
      gateway: `10.${o.octet}.${index}.1`,
      subnet: `10.${o.octet}.${index}.0/24`,
      lock: join(o.locks, String(index)),
    };
    if (!takeLock(net.lock, net.bridge, o)) continue;
    await run(["ip", "link", "del", net.bridge]).catch(() => {}); // a leftover from a crashed run
    if (routes.includes(`10.${o.octet}.${index}.`)) {
      rmSync(net.lock, { recursive: true, force: true });
      continue;
    }
    return net;
  }
  throw new Error(`Cannot start ${o.what}: no free test subnet in 10.${o.octet}.0.0/16`);
}
