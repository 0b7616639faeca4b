// container → the services its ports should produce. Pure: no I/O, no clock, deterministic.
// Rules: parity.md "Container metadata", "Service identity and address", "Precise rules".

import type { ContainerInspect } from "../docker/schema.ts";
import type { HealthMode, Protocol, Service } from "../types.ts";
import { type IpFamily, addressOnNetwork, containerAddress, imageName, ipFromLabel, isIp, isUserDefinedNetwork, isWildcardIp } from "./address.ts";
import { deriveChecks } from "./checks.ts";
import { SAFE_IDENTITY_RULE, unsafeReason } from "./identity.ts";
import { attributes, containerMetadata, type Metadata, parseBool, parseTags, uniqueNonEmpty } from "./metadata.ts";

export interface DeriveOptions {
  /** This host's name: the first segment of default IDs. */
  hostname: string;
  /** -ip */
  hostIp?: string;
  /** Resolved host address for 0.0.0.0 / :: bindings when -ip is not set. */
  defaultHostIp?: string;
  internal: boolean;
  explicit: boolean;
  useIpFromLabel?: string;
  /** -tags (compileTags); may throw at render time → warning, no template tags. */
  tags?: (c: ContainerInspect) => string[];
  allowScriptChecks: boolean;
  /** The container of a `container:<id>` network mode, inspected by the caller. */
  peer?: ContainerInspect;
  /** -health: the policy of ports without SERVICE_HEALTH / SERVICE_<port>_HEALTH (default "auto"). */
  health?: HealthMode;
  /** -network: the Docker network whose IP is registered when the container's own IP is (see SERVICE_NETWORK). */
  network?: string;
}

export const HEALTH_MODES: readonly HealthMode[] = ["auto", "require", "ignore"];
const IP_FAMILIES: readonly IpFamily[] = ["ipv4", "ipv6"];

export interface DeriveResult {
  services: Service[];
  /** Ports deliberately not registered (not published, SERVICE_IGNORE, -explicit): log at info. */
  ignored: Array<{ port: string; reason: string }>;
  /** Bad metadata dropped at the smallest unit (a port, a check, the template tags). */
  warnings: string[];
  /** Informational choices worth one log line (which network's IP was picked and why). */
  notes: string[];
}

type Binding = { HostIp?: string | null; HostPort?: string | null };
interface PortEntry {
  key: string;
  port: number;
  proto: string;
  binding?: Binding;
}

const PORT_KEY = /^(\d{1,5})(?:\/([a-z0-9]+))?$/i;

/** First binding, except that a `::` binding with an IPv4 twin on the same port is the twin. */
function firstBinding(list: readonly Binding[] | null | undefined): Binding | undefined {
  const first = list?.[0];
  if (first?.HostIp !== "::") return first;
  return list?.find((b) => b.HostPort === first.HostPort && (b.HostIp === "0.0.0.0" || !b.HostIp)) ?? first;
}

/** ExposedPorts count as published on the same host port; NetworkSettings.Ports overrides. */
function collectPorts(c: ContainerInspect, ignored: DeriveResult["ignored"]): PortEntry[] {
  const raw = new Map<string, readonly Binding[] | null>();
  const norm = (k: string): string => (k.includes("/") ? k.toLowerCase() : `${k}/tcp`);
  for (const k of Object.keys(c.Config.ExposedPorts ?? {})) {
    raw.set(norm(k), [{ HostIp: "", HostPort: k.split("/")[0] ?? "" }]);
  }
  for (const [k, v] of Object.entries(c.NetworkSettings?.Ports ?? {})) raw.set(norm(k), v);
  const out: PortEntry[] = [];
  for (const [key, list] of raw) {
    const m = PORT_KEY.exec(key);
    if (!m) {
      ignored.push({ port: key, reason: "not a port/protocol pair" });
      continue;
    }
    out.push({ key, port: Number(m[1]), proto: (m[2] ?? "tcp").toLowerCase(), binding: firstBinding(list) });
  }
  return out.sort((a, b) => a.port - b.port || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0));
}

export function deriveServices(c: ContainerInspect, opts: DeriveOptions): DeriveResult {
  const res: DeriveResult = { services: [], ignored: [], warnings: [], notes: [] };
  const name = c.Name.replace(/^\//, "");
  const who = `container "${name}"`;
  const qualifying = collectPorts(c, res.ignored).filter((p) => {
    if (opts.internal || p.binding?.HostPort) return true;
    res.ignored.push({ port: p.key, reason: "not published on the host (-internal registers exposed ports)" });
    return false;
  });
  if (qualifying.length === 0) return res;
  const isGroup = qualifying.length > 1; // counted before per-port ignores: names stay stable

  let templateTags: string[] = [];
  if (opts.tags) {
    try {
      templateTags = opts.tags(c);
    } catch (e) {
      res.warnings.push(`No -tags template tags for ${who}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const addr = resolveAddress(c, opts, res);
  const ids = new Set<string>();
  /** Metadata keys already warned about (a global key applies to every port: one warning). */
  const warnedKeys = new Set<string>();
  const choice = <T extends string>(md: Metadata, key: string, valid: readonly T[], fallback: T | undefined, effect: string): T | undefined => {
    const raw = md.meta[key];
    if (raw === undefined || raw.trim() === "") return fallback;
    const v = raw.trim().toLowerCase();
    if ((valid as readonly string[]).includes(v)) return v as T;
    const written = md.source[key] ?? `SERVICE_${key.toUpperCase()}`;
    if (!warnedKeys.has(written)) {
      warnedKeys.add(written);
      res.warnings.push(`Ignored ${written}="${raw}" of ${who}: expected one of ${valid.join(", ")}; ${effect}`);
    }
    return fallback;
  };
  /** Ports skipped because their network (or IP family) gives no address: one warning per cause. */
  const unattached = new Map<string, string[]>();
  // Parsed once per container; ports without their own keys share one Metadata, and with it
  // their attributes and tags, so the work grows with ports + keys, not ports × keys.
  const metadata = containerMetadata(c);
  const perMeta = new WeakMap<Metadata, { attrs: Record<string, string>; tags: string[] }>();
  const shared = (md: Metadata) => {
    let v = perMeta.get(md);
    if (!v) perMeta.set(md, (v = { attrs: attributes(md.meta), tags: parseTags(md.meta.tags) }));
    return v;
  };

  for (const p of qualifying) {
    const skip = (why: string): void => void res.warnings.push(`Skipped port ${p.key} of ${who}: ${why}`);
    if (p.proto !== "tcp" && p.proto !== "udp") {
      res.ignored.push({ port: p.key, reason: `protocol "${p.proto}" is not supported (tcp, udp)` });
      continue;
    }
    const protocol: Protocol = p.proto;
    const md = metadata.forPort(p.port, protocol);
    const { meta, fromPort, source } = md;
    if (parseBool(meta.ignore)) {
      res.ignored.push({ port: p.key, reason: `${source.ignore} is "${meta.ignore}"` });
      continue;
    }
    if (opts.explicit && !meta.name) {
      res.ignored.push({ port: p.key, reason: `-explicit is set and SERVICE_NAME / SERVICE_${p.port}_NAME is not` });
      continue;
    }

    let service = meta.name || imageName(c.Config.Image ?? "");
    if (isGroup && !fromPort.has("name")) service += `-${p.port}`;
    let id = meta.id || `${opts.hostname}:${name}:${p.port}`;
    if (protocol === "udp") id += ":udp";
    const bad = (what: string, value: string, key: string): boolean => {
      const reason = unsafeReason(value);
      if (reason) skip(`${key} gives the ${what} ${JSON.stringify(value)}, which is unsafe: ${reason} (valid: ${SAFE_IDENTITY_RULE})`);
      return reason !== undefined;
    };
    if (bad("service name", service, meta.name ? (source.name ?? "SERVICE_NAME") : "Config.Image")) continue;
    if (bad("service ID", id, meta.id ? (source.id ?? "SERVICE_ID") : "the default ID")) continue;
    if (ids.has(id)) {
      skip(`the service ID ${JSON.stringify(id)} is already used by another port of this container (set SERVICE_${p.port}_ID)`);
      continue;
    }

    const hostPort = p.binding?.HostPort ?? "";
    const network = meta.network?.trim() || opts.network || undefined;
    const family = choice(md, "ip_family", IP_FAMILIES, undefined, "the IPv4 address is used, or the IPv6 one where there is no IPv4");
    const resolved = addr(p.binding, network, family);
    if ("problem" in resolved) {
      res.ignored.push({ port: p.key, reason: resolved.problem });
      unattached.set(resolved.problem, [...(unattached.get(resolved.problem) ?? []), p.key]);
      continue;
    }
    const ip = resolved.ip;
    if (!ip) {
      skip("no address could be determined (set -ip, or attach the container to a network)");
      continue;
    }
    const port = opts.internal ? p.port : Number(hostPort);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      skip(`the published host port ${JSON.stringify(hostPort)} is not a port number`);
      continue;
    }
    const checks = deriveChecks({
      meta,
      source,
      ip,
      port,
      containerId: c.Id,
      containerName: name,
      exposedPort: p.port,
      allowScriptChecks: opts.allowScriptChecks,
    });
    res.warnings.push(...checks.warnings);
    ids.add(id);
    res.services.push({
      id,
      name: service,
      ip,
      port,
      protocol,
      tags: uniqueNonEmpty([...shared(md).tags, ...templateTags, ...(protocol === "udp" ? ["udp"] : [])]),
      attrs: shared(md).attrs,
      checks: checks.checks,
      enableTagOverride: parseBool(meta.enable_tag_override),
      health: choice(md, "health", HEALTH_MODES, opts.health ?? "auto", `the -health default "${opts.health ?? "auto"}" applies`) ?? "auto",
      origin: { containerId: c.Id, containerName: name, exposedPort: p.port, hostPort, hostIp: p.binding?.HostIp ?? "" },
    });
  }
  for (const [problem, ports] of unattached) {
    const hint = problem.includes("not attached") ? "connect it to that network, or choose another with SERVICE_NETWORK / -network" : "choose another network or SERVICE_IP_FAMILY";
    res.warnings.push(`Skipped port${ports.length > 1 ? "s" : ""} ${ports.join(", ")} of ${who}: ${problem}; ${hint}`);
  }
  return res;
}

/** A port's address, or why its port is skipped (the `ignored` reason). */
type Resolved = { ip: string } | { problem: string };

/**
 * The IP rules in parity order, each later one overriding: binding HostIp (wildcard → the host's
 * address); user-defined network → its container IP; -ip; -internal → container IP;
 * -useIpFromLabel; `container:<id>` mode → the peer's IP. They are tried from the last (strongest)
 * down. Where the container's own IP is used, `network` (SERVICE_NETWORK / -network) picks the
 * Docker network: a container not attached to it gives a problem, never another network's IP.
 * Returns a function of the port's binding, network and IP family.
 */
function resolveAddress(c: ContainerInspect, opts: DeriveOptions, res: DeriveResult): (b: Binding | undefined, network?: string, family?: IpFamily) => Resolved {
  const name = c.Name.replace(/^\//, "");
  const mode = c.HostConfig?.NetworkMode ?? "";
  const notes = new Set<string>();
  /** The own IP of `target` (this container or its network peer); "" when it has none. */
  const own = (target: ContainerInspect, network: string | undefined, family: IpFamily | undefined): Resolved => {
    if (network) return addressOnNetwork(target, network, family);
    const a = containerAddress(target, family);
    if (a.note && !notes.has(a.note)) {
      notes.add(a.note);
      res.notes.push(a.note);
    }
    if (!a.ip && family === "ipv6") return { problem: `no IPv6 address (SERVICE_IP_FAMILY is "ipv6")` };
    return { ip: a.ip };
  };
  let labelIp = "";
  if (opts.useIpFromLabel) {
    const raw = c.Config.Labels?.[opts.useIpFromLabel];
    const ip = raw ? ipFromLabel(raw) : "";
    if (ip && isIp(ip)) labelIp = ip;
    else if (raw) {
      res.warnings.push(
        `Ignored label ${JSON.stringify(opts.useIpFromLabel)} of container "${name}" for -useIpFromLabel: ${JSON.stringify(raw)} is not an IP address (e.g. "10.0.0.5" or "10.0.0.5/24")`,
      );
    }
  }
  const peerMode = mode.startsWith("container:");
  if (peerMode && (!opts.peer || !containerAddress(opts.peer).ip)) {
    res.warnings.push(`No address from the network peer of container "${name}" (${mode}): it was not inspected or has no IP`);
  }
  const usable = (r: Resolved): boolean => "problem" in r || r.ip !== "";
  return (b, network, family) => {
    if (peerMode && opts.peer) {
      const r = own(opts.peer, network, family);
      if (usable(r)) return r;
    }
    if (labelIp) return { ip: labelIp };
    if (opts.internal) {
      // host network: the container's address is the host's
      if (mode === "host") {
        const ip = opts.hostIp || opts.defaultHostIp;
        if (ip) return { ip };
      } else {
        const r = own(c, network, family);
        if (usable(r)) return r;
      }
    }
    if (opts.hostIp) return { ip: opts.hostIp };
    if (isUserDefinedNetwork(mode)) {
      const r = own(c, network, family);
      if (usable(r)) return r;
    }
    if (!b?.HostPort) return { ip: "" };
    return { ip: isWildcardIp(b.HostIp) ? (opts.defaultHostIp ?? "") : (b.HostIp ?? "") };
  };
}
