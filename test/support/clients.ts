// Real Consul clients and scrapers as child processes, each with its own config and data
// directory on a loopback port: VictoriaMetrics (consul_sd_configs; Debian's Prometheus is built
// without it), Prometheus (static scrape), python-consul. Stopped by PID.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Proc, removeDir, spawn, tempDir, waitFor } from "./proc.ts";
import { REPO_ROOT } from "./registrator.ts";

export const VICTORIA_METRICS = "/usr/bin/victoria-metrics";
export const PROMETHEUS = "/usr/bin/prometheus";
/** Debian's python3-consul is installed for the system interpreter. */
export const PYTHON = "/usr/bin/python3";

/** The consul_sd_configs snippet of the README (the block after `<!-- consul-sd-snippet -->`). */
export function readmeConsulSdSnippet(): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const m = /<!-- consul-sd-snippet -->\s*```yaml\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error("README.md has no ```yaml block after <!-- consul-sd-snippet -->");
  return m[1]!;
}

export interface Scraper {
  url: string;
  proc: Proc;
  stop(): Promise<void>;
}

async function startScraper(cmd: (dir: string, port: number) => string[], config: string, ready: string): Promise<Scraper> {
  const dir = tempDir("scraper-");
  const port = await freePort();
  writeFileSync(join(dir, "config.yml"), config);
  const proc = spawn(cmd(dir, port), { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    await removeDir(dir);
  };
  try {
    await waitFor(async () => (await fetch(`${url}${ready}`).catch(() => undefined))?.ok, {
      timeout: 60_000,
      message: `${cmd(dir, port)[0]} never answered ${ready}; last lines:\n${proc.tail()}`,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, proc, stop };
}

/** VictoriaMetrics scraping with this Prometheus config, checking Consul every second. */
export function startVictoriaMetrics(config: string): Promise<Scraper> {
  return startScraper(
    (dir, port) => [
      VICTORIA_METRICS,
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${join(dir, "data")}`,
      `-promscrape.config=${join(dir, "config.yml")}`,
      "-promscrape.consulSDCheckInterval=1s",
      "-loggerLevel=WARN",
    ],
    config,
    "/health",
  );
}

/** Prometheus with this config (its own TSDB directory). */
export function startPrometheus(config: string): Promise<Scraper> {
  return startScraper(
    (dir, port) => [
      PROMETHEUS,
      `--config.file=${join(dir, "config.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    config,
    "/-/ready",
  );
}

export interface Target {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
}

/** The active targets of a Prometheus-compatible /api/v1/targets. */
export async function activeTargets(s: Scraper): Promise<Target[]> {
  const res = await fetch(`${s.url}/api/v1/targets`);
  if (!res.ok) throw new Error(`GET /api/v1/targets: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { data: { activeTargets: Target[] } };
  return body.data.activeTargets;
}

/** A Python script run with Debian's python3 (python3-consul importable), unbuffered. */
export function python(script: string, args: string[] = []): Proc {
  return spawn([PYTHON, "-u", "-c", script, ...args]);
}
