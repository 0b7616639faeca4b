import { derivationInput } from "./bridge/bridge.ts";
import type { Config } from "./config.ts";
import { prepare } from "./daemon.ts";
import { createLogger, escapeControl } from "./log.ts";
import type { Runtime } from "./runtime/types.ts";

interface Row {
  container: string;
  containerId: string;
  port: string;
  service?: { id: string; name: string; ip: string; port: number; tags: string[] };
  ignored?: string;
  warnings?: string[];
}

/**
 * `registrator services`: what the running containers would register, and why a port would not,
 * without touching any registry. Returns the exit code.
 */
export async function servicesCommand(config: Config, rt: Runtime, json: boolean, out: (s: string) => void): Promise<number> {
  const log = createLogger({ level: "error" });
  const { docker, derive } = await prepare({ ...config, uri: "local://" }, rt, log);
  await docker.ping();
  const rows: Row[] = [];
  for (const summary of await docker.list()) {
    const c = await docker.inspect(summary.Id);
    if (!c) continue;
    const name = c.Name.replace(/^\//, "");
    const input = await derivationInput(docker, c);
    const r = derive(input.container, input.peer);
    const base = { container: name, containerId: c.Id.slice(0, 12) };
    for (const s of r.services) {
      rows.push({ ...base, port: `${s.origin.exposedPort}/${s.protocol}`, service: { id: s.id, name: s.name, ip: s.ip, port: s.port, tags: s.tags } });
    }
    for (const ig of r.ignored) rows.push({ ...base, port: ig.port, ignored: ig.reason });
    if (r.warnings.length) rows.push({ ...base, port: "-", warnings: r.warnings });
  }
  if (json) {
    out(JSON.stringify(rows, null, 2));
    return 0;
  }
  const table = [["CONTAINER", "PORT", "SERVICE", "ADDRESS", "TAGS / REASON"]];
  for (const r of rows) {
    if (r.service) table.push([r.container, r.port, r.service.id, `${r.service.ip}:${r.service.port}`, r.service.tags.join(",")]);
    else if (r.ignored) table.push([r.container, r.port, "(ignored)", "", r.ignored]);
    else for (const w of r.warnings ?? []) table.push([r.container, "-", "(warning)", "", w]);
  }
  // Cells hold container-controlled text (names, tags, reasons): no control character reaches the terminal.
  for (const row of table) row.forEach((cell, i) => (row[i] = escapeControl(cell)));
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
  return 0;
}
