// The real SkyDNS 2 server (../shared/anchors/skydns, see its README) on a free loopback port,
// reading an etcd's v2 keys API; stopped by its own PID.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { dnsQuery } from "./dns.ts";
import { type Proc, freePort, spawn, waitFor } from "./proc.ts";
import { REPO_ROOT } from "./registrator.ts";

export const SKYDNS_BIN = resolve(REPO_ROOT, "../shared/anchors/skydns");

/** Why SkyDNS tests cannot run here (with a loud note), or false; always false under CI=true, where they then fail. */
export function skydnsMissing(): string | false {
  if (existsSync(SKYDNS_BIN) || process.env.CI === "true" || process.env.CI === "1") return false;
  const why = `${SKYDNS_BIN} is not there (see ../shared/anchors/README.md)`;
  console.error(`\n*** SKIPPING SkyDNS tests: ${why}\n`);
  return why;
}

export interface SkyDns {
  readonly port: number;
  readonly proc: Proc;
  stop(): Promise<void>;
}

/** SkyDNS for `domain` on 127.0.0.1:<free port>, answering only from etcd (`-no-rec`); resolves once it answers. */
export async function startSkydns(etcdUrl: string, domain = "skydns.local."): Promise<SkyDns> {
  if (!existsSync(SKYDNS_BIN)) throw new Error(`Cannot start SkyDNS: ${SKYDNS_BIN} is not there (see ../shared/anchors/README.md)`);
  const port = await freePort();
  const proc = spawn([SKYDNS_BIN, "-machines", etcdUrl, "-domain", domain, "-addr", `127.0.0.1:${port}`, "-no-rec"]);
  try {
    await waitFor(async () => {
      if (!proc.running) throw new Error(`SkyDNS exited (${proc.exitCode}):\n${proc.tail()}`);
      return dnsQuery("127.0.0.1", port, domain, "A", 500).then(() => true, () => false);
    }, { timeout: 15_000, interval: 100, message: `SkyDNS answering on 127.0.0.1:${port}` });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { port, proc, stop: async () => void (await proc.stop()) };
}
