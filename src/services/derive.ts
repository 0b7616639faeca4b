// container → the services its ports should produce. Pure: no I/O, no clock, deterministic.
// Rules: parity.md "Container metadata", "Service identity and address", "Precise rules".

import type { ContainerInspect } from "../docker/schema.ts";
import type { HealthMode, Protocol, Service, ServiceWeights, ServiceWhy } from "../types.ts";
import { type IpFamily, addressOnNetwork, containerAddress, imageIdOf, imageName, ipFromLabel, isIp, isUserDefinedNetwork, isWildcardIp } from "./address.ts";
import { deriveChecks } from "./checks.ts";
import { type ContainerFilter, failingFilter } from "./filter.ts";
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
  /** -default-name: where a name comes from when no SERVICE_NAME is set (default "image"). */
  defaultName?: DefaultName;
  /**
   * The first repository tag of the container's image (`RepoTags[0]`), looked up by the caller
   * when Config.Image names the image by its ID; absent or null: it has none (→ the container name).
   */
  imageTag?: string | null;
  /** How -ip was given, for provenance: `<hostIpSource> → <address>` (default "-ip"; e.g. "-ip eth0"). */
  hostIpSource?: string;
  /** -filter: a container failing any of them yields no services, only an `ignored` entry naming it. */
  filters?: readonly ContainerFilter[];
}

/** `-default-name` (parity "Addresses, ports, names and the host, per container"). */
export type DefaultName = "image" | "container" | "compose";
export const DEFAULT_NAMES: readonly DefaultName[] = ["image", "container", "compose"];
/** The label Docker Compose puts on every container with its service's name. */
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";

export const HEALTH_MODES: readonly HealthMode[] = ["auto", "require", "ignore"];
const IP_FAMILIES: readonly IpFamily[] = ["ipv4", "ipv6"];
/** Consul's Weights bounds (structs.ValidateWeights) and its default for each. */
const MAX_WEIGHT = 65535;
const DEFAULT_WEIGHT = 1;

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
  /** Where the port comes from: a Docker binding, Config.ExposedPorts standing for one, SERVICE_EXPOSE. */
  from: PortSource;
}
type PortSource = "binding" | "exposed" | "SERVICE_EXPOSE";

const PORT_KEY = /^(\d{1,5})(?:\/([a-z0-9]+))?$/i;

/** First binding, except that a `::` binding with an IPv4 twin on the same port is the twin. */
function firstBinding(list: readonly Binding[] | null | undefined): Binding | undefined {
  const first = list?.[0];
  if (first?.HostIp !== "::") return first;
  return list?.find((b) => b.HostPort === first.HostPort && (b.HostIp === "0.0.0.0" || !b.HostIp)) ?? first;
}

const EXPOSE_ENTRY = /^(\d{1,5})(?:\/(tcp|udp))?$/i;

/**
 * `SERVICE_EXPOSE=<port>[/<proto>],…` → port keys ("9100/tcp"); each malformed entry is one
 * warning and the others still count. Empty entries (a trailing comma) are nothing.
 */
export function parseExpose(value: string): { ports: string[]; bad: string[] } {
  const ports: string[] = [];
  const bad: string[] = [];
  for (const part of value.split(",")) {
    const entry = part.trim();
    if (entry === "") continue;
    const m = EXPOSE_ENTRY.exec(entry);
    const port = Number(m?.[1]);
    if (!m || port < 1 || port > 65535) bad.push(entry);
    else ports.push(`${port}/${(m[2] ?? "tcp").toLowerCase()}`);
  }
  return { ports, bad };
}

/**
 * ExposedPorts count as published on the same host port; NetworkSettings.Ports overrides.
 * `expose` (SERVICE_EXPOSE) adds ports the image does not EXPOSE: on the host network published
 * on the same port like EXPOSE'd ones, elsewhere exposed but unpublished unless Docker reports a
 * binding for them.
 */
function collectPorts(c: ContainerInspect, ignored: DeriveResult["ignored"], expose: readonly string[]): PortEntry[] {
  const raw = new Map<string, readonly Binding[] | null>();
  const from = new Map<string, PortSource>();
  const norm = (k: string): string => (k.includes("/") ? k.toLowerCase() : `${k}/tcp`);
  for (const k of Object.keys(c.Config.ExposedPorts ?? {})) {
    raw.set(norm(k), [{ HostIp: "", HostPort: k.split("/")[0] ?? "" }]);
    from.set(norm(k), "exposed");
  }
  const hostNetwork = c.HostConfig?.NetworkMode === "host";
  for (const k of expose) {
    if (raw.has(k)) continue;
    raw.set(k, hostNetwork ? [{ HostIp: "", HostPort: k.split("/")[0] ?? "" }] : null);
    from.set(k, "SERVICE_EXPOSE");
  }
  for (const [k, v] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
    raw.set(norm(k), v);
    if (v?.length || !from.has(norm(k))) from.set(norm(k), "binding");
  }
  const out: PortEntry[] = [];
  for (const [key, list] of raw) {
    const m = PORT_KEY.exec(key);
    if (!m) {
      ignored.push({ port: key, reason: "not a port/protocol pair" });
      continue;
    }
    out.push({ key, port: Number(m[1]), proto: (m[2] ?? "tcp").toLowerCase(), binding: firstBinding(list), from: from.get(key) ?? "binding" });
  }
  return out.sort((a, b) => a.port - b.port || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0));
}

export function deriveServices(c: ContainerInspect, opts: DeriveOptions): DeriveResult {
  const res: DeriveResult = { services: [], ignored: [], warnings: [], notes: [] };
  const name = c.Name.replace(/^\//, "");
  const who = `container "${name}"`;
  const out = opts.filters?.length ? failingFilter(c, opts.filters) : undefined;
  if (out) {
    res.ignored.push({ port: "-", reason: `left out by -filter ${out.expr}` });
    return res;
  }
  // Parsed once per container; ports without their own keys share one Metadata, and with it
  // their attributes and tags, so the work grows with ports + keys, not ports × keys.
  const metadata = containerMetadata(c);
  for (const p of metadata.problems) res.warnings.push(`Ignored ${p.key}=${JSON.stringify(p.value)} of ${who}: ${p.reason}`);
  /** A port's Metadata, built once (it is read to qualify the port and again to derive it). */
  const mds = new Map<string, Metadata>();
  const mdOf = (p: PortEntry): Metadata => {
    let md = mds.get(p.key);
    if (!md) mds.set(p.key, (md = metadata.forPort(p.port, p.proto)));
    return md;
  };
  const expose = metadata.global("expose");
  const exposed = expose ? parseExpose(expose.value) : { ports: [], bad: [] };
  for (const entry of exposed.bad) {
    res.warnings.push(`Ignored ${JSON.stringify(entry)} in ${expose?.source} of ${who}: expected <port>[/tcp|/udp] with a port from 1 to 65535, e.g. 9100 or 53/udp`);
  }
  /** Metadata keys already warned about (a global key applies to every port: one warning). */
  const warnedKeys = new Set<string>();
  const warnOnce = (written: string, text: string): void => {
    if (warnedKeys.has(written)) return;
    warnedKeys.add(written);
    res.warnings.push(text);
  };
  /** SERVICE_INTERNAL / SERVICE_<port>_INTERNAL, else -internal: whether the port registers its container IP and exposed port. */
  const internalOf = (md: Metadata): { on: boolean; why: string } => {
    const raw = md.meta.internal;
    if (raw === undefined) return { on: opts.internal, why: "-internal" };
    return { on: parseBool(raw), why: md.source.internal ?? "SERVICE_INTERNAL" };
  };
  const qualifying = collectPorts(c, res.ignored, exposed.ports).filter((p) => {
    const internal = internalOf(mdOf(p));
    if (internal.on || p.binding?.HostPort) return true;
    const reason = internal.why === "-internal" ? "-internal registers exposed ports" : `${internal.why} is "${mdOf(p).meta.internal}"`;
    res.ignored.push({ port: p.key, reason: `not published on the host (${reason})` });
    return false;
  });
  if (qualifying.length === 0) return res;
  const named = defaultName(c, opts, name);
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
  const choice = <T extends string>(md: Metadata, key: string, valid: readonly T[], fallback: T | undefined, effect: string): T | undefined => {
    const raw = md.meta[key];
    if (raw === undefined || raw.trim() === "") return fallback;
    const v = raw.trim().toLowerCase();
    if ((valid as readonly string[]).includes(v)) return v as T;
    const written = md.source[key] ?? `SERVICE_${key.toUpperCase()}`;
    warnOnce(written, `Ignored ${written}="${raw}" of ${who}: expected one of ${valid.join(", ")}; ${effect}`);
    return fallback;
  };
  /** SERVICE_IP / SERVICE_<port>_IP: a literal address that wins over every IP rule. */
  const serviceIp = (md: Metadata): { ip: string; why: string } | undefined => {
    const raw = md.meta.ip?.trim();
    if (!raw) return undefined;
    const ip = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
    const written = md.source.ip ?? "SERVICE_IP";
    if (isIp(ip)) return { ip, why: written };
    warnOnce(written, `Ignored ${written}=${JSON.stringify(md.meta.ip)} of ${who}: not an IP address (e.g. 10.0.0.5 or fd00::5); the other address rules apply`);
    return undefined;
  };
  /** Ports skipped because their network (or IP family) gives no address: one warning per cause. */
  const unattached = new Map<string, string[]>();
  const perMeta = new WeakMap<Metadata, { attrs: Record<string, string>; tags: string[]; weights?: ServiceWeights }>();
  const shared = (md: Metadata) => {
    let v = perMeta.get(md);
    if (!v) perMeta.set(md, (v = { attrs: attributes(md.meta), tags: parseTags(md.meta.tags), weights: weights(md) }));
    return v;
  };
  /** SERVICE_WEIGHT_PASSING / _WARNING as Consul validates Weights; a bad one is dropped with a warning. */
  const weights = (md: Metadata): ServiceWeights | undefined => {
    const one = (key: "weight_passing" | "weight_warning", min: number): number | undefined => {
      const raw = md.meta[key];
      if (raw === undefined || raw.trim() === "") return undefined;
      const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (n >= min && n <= MAX_WEIGHT) return n;
      const written = md.source[key] ?? `SERVICE_${key.toUpperCase()}`;
      warnOnce(written, `Ignored ${written}="${raw}" of ${who}: expected a whole number from ${min} to ${MAX_WEIGHT}; Consul's default ${DEFAULT_WEIGHT} applies`);
      return undefined;
    };
    const passing = one("weight_passing", 1);
    const warning = one("weight_warning", 0);
    if (passing === undefined && warning === undefined) return undefined;
    return { passing: passing ?? DEFAULT_WEIGHT, warning: warning ?? DEFAULT_WEIGHT };
  };

  for (const p of qualifying) {
    const skip = (why: string): void => void res.warnings.push(`Skipped port ${p.key} of ${who}: ${why}`);
    if (p.proto !== "tcp" && p.proto !== "udp") {
      res.ignored.push({ port: p.key, reason: `protocol "${p.proto}" is not supported (tcp, udp)` });
      continue;
    }
    const protocol: Protocol = p.proto;
    const md = mdOf(p);
    const { meta, fromPort, source } = md;
    if (parseBool(meta.ignore)) {
      res.ignored.push({ port: p.key, reason: `${source.ignore} is "${meta.ignore}"` });
      continue;
    }
    if (opts.explicit && !meta.name) {
      res.ignored.push({ port: p.key, reason: `-explicit is set and SERVICE_NAME / SERVICE_${p.port}_NAME is not` });
      continue;
    }

    let service = meta.name || named.name;
    let nameWhy = meta.name ? (source.name ?? "SERVICE_NAME") : named.why;
    if (isGroup && !fromPort.has("name")) {
      service += `-${p.port}`;
      nameWhy += `, -${p.port} (several ports)`;
    }
    let id = meta.id || `${opts.hostname}:${name}:${p.port}`;
    if (protocol === "udp") id += ":udp";
    const bad = (what: string, value: string, key: string): boolean => {
      const reason = unsafeReason(value);
      if (reason) skip(`${key} gives the ${what} ${JSON.stringify(value)}, which is unsafe: ${reason} (valid: ${SAFE_IDENTITY_RULE})`);
      return reason !== undefined;
    };
    if (bad("service name", service, meta.name ? (source.name ?? "SERVICE_NAME") : named.source)) continue;
    if (bad("service ID", id, meta.id ? (source.id ?? "SERVICE_ID") : "the default ID")) continue;
    if (ids.has(id)) {
      skip(`the service ID ${JSON.stringify(id)} is already used by another port of this container (set SERVICE_${p.port}_ID)`);
      continue;
    }

    const hostPort = p.binding?.HostPort ?? "";
    const network = meta.network?.trim() || opts.network || undefined;
    const family = choice(md, "ip_family", IP_FAMILIES, undefined, "the IPv4 address is used, or the IPv6 one where there is no IPv4");
    const internal = internalOf(md);
    const resolved = serviceIp(md) ?? addr(p.binding, network, family, internal);
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
    const port = internal.on ? p.port : Number(hostPort);
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
      ...(shared(md).weights ? { weights: shared(md).weights } : {}),
      health: choice(md, "health", HEALTH_MODES, opts.health ?? "auto", `the -health default "${opts.health ?? "auto"}" applies`) ?? "auto",
      origin: { containerId: c.Id, containerName: name, exposedPort: p.port, hostPort, hostIp: p.binding?.HostIp ?? "" },
      why: provenance(resolved.why, portWhy(p.from, internal), nameWhy),
    });
  }
  for (const [problem, ports] of unattached) {
    const hint = problem.includes("not attached") ? "connect it to that network, or choose another with SERVICE_NETWORK / -network" : "choose another network or SERVICE_IP_FAMILY";
    res.warnings.push(`Skipped port${ports.length > 1 ? "s" : ""} ${ports.join(", ")} of ${who}: ${problem}; ${hint}`);
  }
  return res;
}

/** Which rule chose the port: the exposed port (internal), or the published (or standing-in) one. */
function portWhy(from: PortSource, internal: { on: boolean; why: string }): string {
  if (internal.on) return from === "SERVICE_EXPOSE" ? `SERVICE_EXPOSE, ${internal.why}` : `exposed port, ${internal.why}`;
  if (from === "SERVICE_EXPOSE") return "SERVICE_EXPOSE, host network";
  return from === "exposed" ? "exposed port, host network" : "binding HostPort";
}

/**
 * Provenance texts repeat across services (most come from a handful of rules), so equal ones are
 * one shared object: kept services hold no copies. Bounded: a full table starts over.
 */
const WHY_MAX = 4096;
const whys = new Map<string, ServiceWhy>();
function provenance(address: string, port: string, name: string): ServiceWhy {
  const key = `${address}\0${port}\0${name}`;
  let w = whys.get(key);
  if (!w) {
    if (whys.size >= WHY_MAX) whys.clear();
    whys.set(key, (w = Object.freeze({ address, port, name })));
  }
  return w;
}

/**
 * The default service name and the rule that gave it: `-default-name container` → the container
 * name; `compose` → the Compose service label when there is one; otherwise (and by default) the
 * image's basename, where an image named by ID is named from its first repository tag, else the
 * container name (registrator named these "sha256", #701). `source` names the input for warnings.
 */
function defaultName(c: ContainerInspect, opts: DeriveOptions, container: string): { name: string; why: string; source: string } {
  if (opts.defaultName === "container") return { name: container, why: "-default-name container", source: "the container name" };
  if (opts.defaultName === "compose") {
    const label = c.Config.Labels?.[COMPOSE_SERVICE_LABEL];
    if (label) return { name: label, why: "-default-name compose", source: `label ${COMPOSE_SERVICE_LABEL}` };
  }
  const ref = c.Config.Image ?? "";
  const id = imageIdOf(ref, c.Image);
  if (id === undefined) return { name: imageName(ref), why: `image ${ref}`, source: "Config.Image" };
  const short = id.slice(0, "sha256:".length + 12);
  if (opts.imageTag) return { name: imageName(opts.imageTag), why: `image tag ${opts.imageTag} of ${short}`, source: `the tag ${opts.imageTag} of image ${short}` };
  return { name: container, why: `container name (image ${short} has no tag)`, source: "the container name" };
}

/** A port's address and the rule that chose it, or why its port is skipped (the `ignored` reason). */
type Resolved = { ip: string; why: string } | { problem: string };

/**
 * The IP rules in parity order, each later one overriding: binding HostIp (wildcard → the host's
 * address); user-defined network → its container IP; -ip; -internal (or SERVICE_INTERNAL) →
 * container IP; -useIpFromLabel; `container:<id>` mode → the peer's IP. They are tried from the
 * last (strongest) down; SERVICE_IP, above them all, is the caller's. Where the container's own IP
 * is used, `network` (SERVICE_NETWORK / -network) picks the Docker network: a container not
 * attached to it gives a problem, never another network's IP. Returns a function of the port's
 * binding, network, IP family and internal setting; each address comes with the rule that chose it.
 */
function resolveAddress(
  c: ContainerInspect,
  opts: DeriveOptions,
  res: DeriveResult,
): (b: Binding | undefined, network: string | undefined, family: IpFamily | undefined, internal: { on: boolean; why: string }) => Resolved {
  const name = c.Name.replace(/^\//, "");
  const mode = c.HostConfig?.NetworkMode ?? "";
  const notes = new Set<string>();
  /** The own IP of `target` (this container or its network peer); "" when it has none. */
  const own = (target: ContainerInspect, network: string | undefined, family: IpFamily | undefined, rule: string): Resolved => {
    if (network) {
      const r = addressOnNetwork(target, network, family);
      return "problem" in r ? r : { ip: r.ip, why: `${rule}, network ${network}` };
    }
    const a = containerAddress(target, family);
    if (a.note && !notes.has(a.note)) {
      notes.add(a.note);
      res.notes.push(a.note);
    }
    if (!a.ip && family === "ipv6") return { problem: `no IPv6 address (SERVICE_IP_FAMILY is "ipv6")` };
    return { ip: a.ip, why: a.network ? `${rule}, network ${a.network}` : rule };
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
  const hostIpWhy = opts.hostIp ? `${opts.hostIpSource ?? "-ip"} → ${opts.hostIp}` : "";
  const hostAddress = (): { ip: string; why: string } =>
    opts.hostIp ? { ip: opts.hostIp, why: hostIpWhy } : { ip: opts.defaultHostIp ?? "", why: "this host's address" };
  return (b, network, family, internal) => {
    if (peerMode && opts.peer) {
      const r = own(opts.peer, network, family, "container: network mode");
      if (usable(r)) return r;
    }
    if (labelIp) return { ip: labelIp, why: `-useIpFromLabel ${opts.useIpFromLabel}` };
    if (internal.on) {
      // host network: the container's address is the host's
      if (mode === "host") {
        const h = hostAddress();
        if (h.ip) return { ip: h.ip, why: `${internal.why}, host network: ${h.why}` };
      } else {
        const r = own(c, network, family, internal.why);
        if (usable(r)) return r;
      }
    }
    if (opts.hostIp) return { ip: opts.hostIp, why: hostIpWhy };
    if (isUserDefinedNetwork(mode)) {
      const r = own(c, network, family, "user-defined network");
      if (usable(r)) return r;
    }
    if (!b?.HostPort) return { ip: "", why: "" };
    if (isWildcardIp(b.HostIp)) return { ip: opts.defaultHostIp ?? "", why: `binding ${b.HostIp || "0.0.0.0"}: this host's address` };
    return { ip: b.HostIp ?? "", why: "binding HostIp" };
  };
}
