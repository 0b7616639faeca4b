// SERVICE_* metadata of a container, as registrator reads it (parity.md "Container metadata").
//
// Sources, lowest to highest precedence:
//   1. global keys  `SERVICE_<key>`        from Config.Env, then Config.Labels (label wins)
//   2. per-port keys `SERVICE_<port>_<key>` from Config.Env, then Config.Labels (label wins)
// The `SERVICE_` prefix is case-sensitive (as in registrator); everything after it is lower-cased
// as a whole, so `SERVICE_Check_HTTP` and `SERVICE_CHECK_HTTP` are the same key `check_http`.
// A key `SERVICE_<digits>_<rest>` is always a per-port key: it applies to port <digits> only and
// never becomes a global key for the other ports.
//   3. per-protocol keys `SERVICE_<port>_<proto>_<key>` (proto TCP or UDP, any case) beat the
//      per-port key for that protocol only (#244: TCP and UDP on one port with different names).
// After `SERVICE_<digits>_`, a leading `TCP_` or `UDP_` is always the protocol; nowhere else is it:
// `SERVICE_UDP_X` is the global key `udp_x`, and `SERVICE_53_UDP` (nothing after) the per-port key `udp`.
//   Between 1 and 2, port ranges: `SERVICE_<from>-<to>_<key>` (and `SERVICE_<from>-<to>_<proto>_<key>`)
//   apply to every exposed port from..to. The more specific wins: the single port over any range, a
//   narrower range over a wider one (equal widths: the one starting higher, so the outcome never
//   depends on key order); within one port or range the per-protocol key wins as above.

import type { ContainerInspect } from "../docker/schema.ts";

export interface Metadata {
  /** Lower-cased key (without prefix and port) → raw value as written. */
  meta: Record<string, string>;
  /** Keys whose value came from a per-port form: `SERVICE_<port>_<key>`, `SERVICE_<port>_<proto>_<key>` or a range. */
  fromPort: Set<string>;
  /** Lower-cased key → the key as the user wrote it (for warnings), e.g. `SERVICE_80_NAME`. */
  source: Record<string, string>;
}

const PREFIX = "SERVICE_";
const PER_PORT = /^(\d+)_(.+)$/s;
const PER_PROTO = /^(tcp|udp)_(.+)$/s;
const RANGE = /^(\d+)-(\d+)_(.+)$/s;
const MAX_PORT = 65535;

/** `K=V` entries of Config.Env, then Config.Labels in key order; later entries override earlier ones. */
function rawEntries(c: ContainerInspect): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const kv of c.Config.Env ?? []) {
    const eq = kv.indexOf("=");
    if (eq > 0) out.push([kv.slice(0, eq), kv.slice(eq + 1)]);
  }
  const labels = c.Config.Labels ?? {};
  for (const k of Object.keys(labels).sort()) {
    const v = labels[k];
    if (typeof v === "string") out.push([k, v]);
  }
  return out;
}

type Entries = Record<string, [value: string, key: string]>;

/** A port's own keys: `SERVICE_<port>_<key>`, and per protocol `SERVICE_<port>_<proto>_<key>`. */
interface PortEntries {
  any: Entries;
  tcp?: Entries;
  udp?: Entries;
}

/** The keys of a port range `SERVICE_<from>-<to>_…`. */
interface RangeEntries extends PortEntries {
  from: number;
  to: number;
}

/** Files `rest` (the key after the port or range) as a per-protocol or any-protocol key. */
function addPortKey(own: PortEntries, rest: string, v: string, k: string): void {
  const pm = PER_PROTO.exec(rest);
  if (pm) (own[pm[1] as "tcp" | "udp"] ??= Object.create(null))[pm[2]!] = [v, k];
  else own.any[rest] = [v, k];
}

export interface ContainerMetadata {
  forPort(exposedPort: string | number, protocol?: string): Metadata;
  /** A container-level key (`SERVICE_<key>`, never a per-port or range form): its value and the key as written. */
  global(key: string): { value: string; source: string } | undefined;
  /** Keys that cannot apply to any port (an empty or out-of-bounds range), as warnings to give once. */
  problems: Array<{ key: string; value: string; reason: string }>;
}

/**
 * A container's SERVICE_* metadata, parsed once: `forPort(p, proto)` gives what applies to port p
 * with that protocol (tcp when not given). Work is linear in the container's keys plus, per port,
 * that port's own keys and the ranges that hold it; ports without their own keys share one Metadata
 * object per set of ranges (callers must not mutate what they get).
 */
export function containerMetadata(c: ContainerInspect): ContainerMetadata {
  // Keys are container-controlled (SERVICE___PROTO__, SERVICE_CONSTRUCTOR): objects without a prototype.
  const global: Entries = Object.create(null);
  const perPort = new Map<string, PortEntries>();
  const ranges = new Map<string, RangeEntries>();
  const problems: ContainerMetadata["problems"] = [];
  for (const [k, v] of rawEntries(c)) {
    if (!k.startsWith(PREFIX) || k.length === PREFIX.length) continue;
    const key = k.slice(PREFIX.length).toLowerCase();
    const m = PER_PORT.exec(key);
    if (m) {
      if (!m[2]) continue;
      let own = perPort.get(m[1]!);
      if (!own) perPort.set(m[1]!, (own = { any: Object.create(null) }));
      addPortKey(own, m[2], v, k);
      continue;
    }
    const r = RANGE.exec(key);
    if (r) {
      const from = Number(r[1]);
      const to = Number(r[2]);
      if (from < 1 || to > MAX_PORT || from > to) {
        problems.push({ key: k, value: v, reason: `the port range ${r[1]}-${r[2]} holds no port (expected <from>-<to> with 1 <= from <= to <= ${MAX_PORT})` });
        continue;
      }
      const id = `${from}-${to}`;
      let own = ranges.get(id);
      if (!own) ranges.set(id, (own = { from, to, any: Object.create(null) }));
      addPortKey(own, r[3]!, v, k);
      continue;
    }
    global[key] = [v, k];
  }
  // Applied in this order, later winning: widest first; equal widths, the lower start first.
  const ordered = [...ranges.values()].sort((a, b) => b.to - b.from - (a.to - a.from) || a.from - b.from);
  const byRanges = new Map<string, Metadata>();
  let shared: Metadata | undefined;
  const build = (...layers: Array<Entries | undefined>): Metadata => {
    const meta: Record<string, string> = Object.create(null);
    const source: Record<string, string> = Object.create(null);
    const fromPort = new Set<string>();
    for (const [key, [v, k]] of Object.entries(global)) {
      meta[key] = v;
      source[key] = k;
    }
    for (const layer of layers) {
      for (const [key, [v, k]] of Object.entries(layer ?? {})) {
        meta[key] = v;
        source[key] = k;
        fromPort.add(key);
      }
    }
    return { meta, fromPort, source };
  };
  return {
    global(key) {
      const e = global[key];
      return e ? { value: e[0], source: e[1] } : undefined;
    },
    problems,
    forPort(exposedPort, protocol = "tcp") {
      const proto = protocol === "tcp" || protocol === "udp" ? protocol : undefined;
      const own = perPort.get(String(exposedPort));
      const n = Number(exposedPort);
      const hits = ordered.length ? ordered.filter((r) => r.from <= n && n <= r.to) : ordered;
      const layers: Array<Entries | undefined> = [];
      for (const r of hits) layers.push(r.any, proto && r[proto]);
      if (own) return build(...layers, own.any, proto && own[proto]);
      if (hits.length === 0) return (shared ??= build());
      const key = `${proto}|${hits.map((r) => `${r.from}-${r.to}`).join(",")}`;
      let md = byRanges.get(key);
      if (!md) byRanges.set(key, (md = build(...layers)));
      return md;
    },
  };
}

/** The SERVICE_* metadata that applies to one exposed (container) port and protocol. */
export function serviceMetadata(c: ContainerInspect, exposedPort: string | number, protocol?: string): Metadata {
  return containerMetadata(c).forPort(exposedPort, protocol);
}

/**
 * The keys that are not attributes: parity's name, id, tags, ignore, registrator's own controls
 * health, network, ip_family, ip, internal and expose (they steer registration, they do not
 * describe the service), and weight_passing / weight_warning, which become the service's weights.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  "name", "id", "tags", "ignore", "health", "network", "ip_family", "ip", "internal", "expose", "weight_passing", "weight_warning",
]);

/**
 * Check request headers (`CHECK_HTTP_HEADER_<Name>`, `CHECK_<n>_HTTP_HEADER_<Name>`) are not
 * attributes either: they often carry credentials (Authorization), and attributes are published
 * (Consul Meta, ZooKeeper Attrs) for anyone who can read the catalog.
 */
const CHECK_HEADER_KEY = /^check_(?:\d+_)?http_header_/;

/** Every non-reserved key with its raw value (Consul Meta validation is the adapter's job). */
export function attributes(meta: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(meta).sort()) {
    if (!RESERVED_KEYS.has(k) && !CHECK_HEADER_KEY.test(k)) out[k] = meta[k] ?? "";
  }
  return out;
}

/**
 * Boolean metadata (IGNORE, CHECK_TCP, CHECK_GRPC, CHECK_GRPC_USE_TLS, CHECK_TLS_SKIP_VERIFY,
 * ENABLE_TAG_OVERRIDE): `false`, `0`, `no`, `off` and empty (or absent) are off, case-insensitively
 * and ignoring surrounding whitespace; any other value is on.
 */
export function parseBool(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return !(v === "" || v === "false" || v === "0" || v === "no" || v === "off");
}

/**
 * Tags: split on commas not preceded by a backslash (`\,` is a literal comma; any other backslash
 * stays as written), trim surrounding whitespace, drop empty tags, drop duplicates keeping the first,
 * keep the written order (registrator reversed them: fixed).
 */
export function parseTags(value: string | undefined): string[] {
  if (!value) return [];
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === "\\" && value[i + 1] === ",") {
      cur += ",";
      i++;
    } else if (ch === ",") {
      parts.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return uniqueNonEmpty(parts.map((p) => p.trim()));
}

/** Drops empty strings and later duplicates, keeping order. */
export function uniqueNonEmpty(items: Iterable<string>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of items) {
    if (t === "" || seen.has(t)) continue;
    seen.add(t);
    out.push(t);
  }
  return out;
}
