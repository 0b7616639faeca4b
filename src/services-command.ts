import { derivationInput } from "./bridge/derivation-input.ts";
import type { Config } from "./config.ts";
import { prepare } from "./daemon.ts";
import { createLogger, escapeControl } from "./log.ts";
import { registryNames } from "./registries/names.ts";
import type { Runtime } from "./runtime/types.ts";
import { trafficDecision } from "./services/traffic.ts";
import type { HealthMode, OutOfTrafficReason, ServiceWhy } from "./types.ts";

/** Backends that keep a service registered with a critical check instead of withholding it. */
const MIRRORING_SCHEMES = new Set(["consul", "consul-tls", "consul-unix", "consul-catalog", "local"]);

export function mirrorsHealthFor(uri: string): boolean {
  return MIRRORING_SCHEMES.has(/^([a-z0-9+.-]+):/i.exec(uri)?.[1]?.toLowerCase() ?? "local");
}

/** Whether a service takes traffic now, as the daemon would decide from the same inspect. */
interface Traffic {
  health: HealthMode;
  /** False when the daemon would hold it back (or take it out of the registry). */
  registered: boolean;
  /** Set when it is not in traffic: held back, or registered with a critical Docker health check. */
  reason?: OutOfTrafficReason;
  /** Several registries: whether each would hold it (`registered` above: every one). */
  registries?: Record<string, { registered: boolean }>;
}

function trafficCell(t: Traffic): string {
  if (!t.reason) return "in";
  const how = (registered: boolean) => (registered ? "registered, critical check" : "not registered");
  if (!t.registries) return `out: ${t.reason} (${how(t.registered)})`;
  return `out: ${t.reason} (${Object.entries(t.registries).map(([name, r]) => `${how(r.registered)} in ${name}`).join("; ")})`;
}

interface Row {
  container: string;
  containerId: string;
  port: string;
  service?: { id: string; name: string; ip: string; port: number; tags: string[]; why?: ServiceWhy };
  traffic?: Traffic;
  ignored?: string;
  warnings?: string[];
}

/**
 * `registrator services`: what the running containers would register, and why a port would not,
 * without touching any registry. Returns the exit code.
 */
export async function servicesCommand(config: Config, rt: Runtime, json: boolean, out: (s: string) => void): Promise<number> {
  const log = createLogger({ level: "error" });
  const { docker, derive } = await prepare({ ...config, uri: "local://", uris: ["local://"] }, rt, log);
  await docker.ping();
  const rows: Row[] = [];
  const uris = config.uris ?? [config.uri];
  const names = registryNames(uris);
  for (const summary of await docker.list()) {
    const c = await docker.inspect(summary.Id);
    if (!c) continue;
    const name = c.Name.replace(/^\//, "");
    const input = await derivationInput(docker, c);
    const r = derive(input.container, input.peer, input.imageTag);
    const base = { container: name, containerId: c.Id.slice(0, 12) };
    for (const s of r.services) {
      const health = s.health ?? "auto";
      const each = uris.map((uri) => trafficDecision({ state: c.State, health, mirrorsHealth: mirrorsHealthFor(uri) }));
      const reason = each[0]!.reason;
      const traffic: Traffic = { health, registered: each.every((d) => d.register), ...(reason ? { reason } : {}) };
      if (uris.length > 1) traffic.registries = Object.fromEntries(names.map((name, i) => [name, { registered: each[i]!.register }]));
      rows.push({ ...base, port: `${s.origin.exposedPort}/${s.protocol}`, service: { id: s.id, name: s.name, ip: s.ip, port: s.port, tags: s.tags, ...(s.why ? { why: s.why } : {}) }, traffic });
    }
    for (const ig of r.ignored) rows.push({ ...base, port: ig.port, ignored: ig.reason });
    if (r.warnings.length) rows.push({ ...base, port: "-", warnings: r.warnings });
  }
  if (json) {
    out(JSON.stringify(rows, null, 2));
    return 0;
  }
  const table = [["CONTAINER", "PORT", "SERVICE", "ADDRESS", "TRAFFIC", "CHOSEN BY (ADDRESS; PORT; NAME)", "TAGS / REASON"]];
  for (const r of rows) {
    if (r.service) {
      const address = r.service.ip.includes(":") ? `[${r.service.ip}]:${r.service.port}` : `${r.service.ip}:${r.service.port}`;
      const why = r.service.why ? `${r.service.why.address}; ${r.service.why.port}; ${r.service.why.name}` : "";
      table.push([r.container, r.port, r.service.id, address, r.traffic ? trafficCell(r.traffic) : "", why, r.service.tags.join(",")]);
    } else if (r.ignored) table.push([r.container, r.port, "(ignored)", "", "", "", r.ignored]);
    else for (const w of r.warnings ?? []) table.push([r.container, "-", "(warning)", "", "", "", w]);
  }
  // Cells hold container-controlled text (names, tags, reasons): no control character reaches the terminal.
  for (const row of table) row.forEach((cell, i) => (row[i] = escapeControl(cell)));
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
  return 0;
}
