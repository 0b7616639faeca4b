// `-ip` as an address, an interface name or a CIDR (parity "Addresses, ports, names and the
// host"): what the value means, and for the last two the address it stands for now. The
// interfaces come from an injected lister (the runtime's), so this module stays free of I/O.

import type { NetInterfaces } from "./runtime/types.ts";
import type { Logger } from "./types.ts";
import { isIp } from "./services/address.ts";

/** How often the daemon looks the address of -ip eth0 / -ip 10.0.0.0/8 up again (and at each resync). */
export const RESOLVE_EVERY_S = 30;

export type IpSpec =
  | { kind: "address"; ip: string }
  | { kind: "interface"; name: string }
  | { kind: "cidr"; text: string; family: 4 | 6; bits: bigint; prefix: number };

/** Linux interface names: at most 15 bytes; letters, digits and . _ - here (what ip link accepts in practice, minus "/" ":" and spaces). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** What -ip accepts, for messages. */
export const IP_FLAG_FORMS = "an IPv4 or IPv6 address (10.0.0.5), an interface name (eth0) or a CIDR range (10.0.0.0/8)";

/** An address as a number (IPv4 in 32 bits, IPv6 in 128), or undefined when it is not one. */
function addressBits(ip: string): { family: 4 | 6; bits: bigint } | undefined {
  if (!isIp(ip)) return undefined;
  if (!ip.includes(":")) return { family: 4, bits: ip.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n) };
  // The URL parser writes an IPv6 address in its canonical form: "::" expanded below, an
  // embedded IPv4 tail turned into two hex groups.
  const canon = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head = "", tail] = canon.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return { family: 6, bits: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** `-ip`'s value, or an error message saying what is wrong with it ("" is not given: undefined). */
export function parseIpFlag(value: string): IpSpec | { error: string } | undefined {
  const s = value.trim();
  if (s === "") return undefined;
  const slash = s.indexOf("/");
  if (slash >= 0) {
    const a = addressBits(s.slice(0, slash));
    const p = s.slice(slash + 1);
    const max = a?.family === 6 ? 128 : 32;
    if (!a || !/^\d{1,3}$/.test(p) || Number(p) > max) {
      return { error: `Invalid value "${value}" for flag -ip: "${s}" is not a CIDR range such as 10.0.0.0/8 or fd00::/64; expected ${IP_FLAG_FORMS}` };
    }
    const prefix = Number(p);
    return { kind: "cidr", text: s, family: a.family, bits: a.bits >> BigInt(max - prefix), prefix };
  }
  if (isIp(s)) return { kind: "address", ip: s };
  // Digits and dots, or hex and colons, are an address that is not one, not an interface.
  if (/^[\d.]+$/.test(s) || s.includes(":") || !IFNAME.test(s)) {
    return { error: `Invalid value "${value}" for flag -ip: expected ${IP_FLAG_FORMS}` };
  }
  return { kind: "interface", name: s };
}

const isLinkLocal6 = (bits: bigint) => bits >> 118n === 0x3fan; // fe80::/10

/**
 * The address a spec stands for among `interfaces` now: an interface's first IPv4 address (its
 * first global IPv6 address when it has no IPv4); a range's first address on this host, interfaces
 * in the order the system lists them. undefined when there is none (yet).
 */
export function pickAddress(spec: IpSpec, interfaces: NetInterfaces): string | undefined {
  if (spec.kind === "address") return spec.ip;
  if (spec.kind === "interface") {
    const list = interfaces[spec.name] ?? [];
    const v4 = list.find((a) => a.family === "IPv4");
    if (v4) return v4.address;
    return list.find((a) => {
      const b = a.family === "IPv6" ? addressBits(a.address.split("%")[0]!) : undefined;
      return b !== undefined && b.bits !== 0n && b.bits !== 1n && !isLinkLocal6(b.bits);
    })?.address;
  }
  const width = spec.family === 6 ? 128 : 32;
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      const b = addressBits(a.address.split("%")[0]!);
      if (b?.family === spec.family && b.bits >> BigInt(width - spec.prefix) === spec.bits) return a.address;
    }
  }
  return undefined;
}

/** How the spec is written in log lines and provenance: "-ip eth0", "-ip 10.0.0.0/8". */
export function describeSpec(spec: IpSpec): string {
  return `-ip ${spec.kind === "interface" ? spec.name : spec.kind === "cidr" ? spec.text : spec.ip}`;
}

export interface HostAddressEvents {
  /** The first address found, or a change (the one log line old → new); the caller re-registers. */
  changed(next: string, previous: string | undefined): void;
  /** No address (yet, or any more): said once until one is found. */
  missing(message: string): void;
}

/**
 * The address of an interface or range -ip names, looked up again with `refresh()` (every 30 s and
 * at each resync, by the daemon). An address that disappears keeps the last one known: entries
 * stay where they were rather than vanish while an interface is re-configured.
 */
export class HostAddress {
  private address: string | undefined;
  private saidMissing = false;

  constructor(
    readonly spec: Exclude<IpSpec, { kind: "address" }>,
    private readonly list: () => NetInterfaces,
    private readonly on: HostAddressEvents,
  ) {}

  /** The address now; undefined until one was found. */
  get current(): string | undefined {
    return this.address;
  }

  /** The flag as written: "-ip eth0". */
  get flag(): string {
    return describeSpec(this.spec);
  }

  /** Provenance of the address: "-ip eth0 → 10.1.2.3". */
  get why(): string {
    return `${describeSpec(this.spec)} → ${this.address ?? "(none yet)"}`;
  }

  /** Looks the address up again; true when it changed (or was found for the first time). */
  refresh(): boolean {
    let next: string | undefined;
    let problem = "";
    try {
      next = pickAddress(this.spec, this.list());
    } catch (e) {
      problem = `: ${e instanceof Error ? e.message : String(e)}`;
    }
    const what = this.spec.kind === "interface" ? `interface "${this.spec.name}"` : `no interface in ${this.spec.text}`;
    if (next === undefined) {
      if (!this.saidMissing) {
        this.saidMissing = true;
        const has = this.spec.kind === "interface" ? `${what} has no address` : `${what} has an address`;
        this.on.missing(
          this.address === undefined
            ? `${describeSpec(this.spec)}: ${has} yet${problem}; ports that need the host address wait until it has one (checked every ${RESOLVE_EVERY_S} s), /ready is false meanwhile`
            : `${describeSpec(this.spec)}: ${has} any more${problem}; services keep ${this.address} until it has one again`,
        );
      }
      return false;
    }
    this.saidMissing = false;
    if (next === this.address) return false;
    const previous = this.address;
    this.address = next;
    this.on.changed(next, previous);
    return true;
  }
}

/**
 * -ip for the daemon: undefined when it is not given or a fixed address; else a HostAddress,
 * looked up once now, whose findings are logged (a change: one line, old → new).
 */
export function dynamicHostAddress(ip: string, list: () => NetInterfaces, log: Logger): HostAddress | undefined {
  const spec = parseIpFlag(ip);
  if (!spec || "error" in spec || spec.kind === "address") return undefined;
  const flag = describeSpec(spec);
  let started = false;
  const a = new HostAddress(spec, list, {
    changed: (next, prev) =>
      log.info(
        prev !== undefined
          ? `${flag}: address changed ${prev} → ${next}; re-registering every service with it`
          : started
            ? `${flag} → ${next}: registering the ports that waited for it`
            : `Using ${next} for -ip (${flag} → ${next}); looked up again every ${RESOLVE_EVERY_S} s`,
      ),
    missing: (m) => log.warn(m),
  });
  a.refresh();
  started = true;
  return a;
}
