// Which address a service gets (parity "Service identity and address" and "Precise rules").

import type { ContainerInspect } from "../docker/schema.ts";

/** Network modes that are not a user-defined network. */
const BUILTIN_MODES = new Set(["", "default", "bridge", "host", "none"]);

export function isUserDefinedNetwork(mode: string): boolean {
  return !BUILTIN_MODES.has(mode) && !mode.startsWith("container:");
}

/** True for a host IP that means "all interfaces" (or none given): 0.0.0.0, ::, "". */
export function isWildcardIp(ip: string | null | undefined): boolean {
  return !ip || ip === "0.0.0.0" || ip === "::" || ip === "[::]";
}

export interface ContainerAddress {
  /** IPv4 address, or the IPv6 address when it is the only one; "" when none. */
  ip: string;
  /** The network it came from (undefined: the legacy top-level NetworkSettings fields). */
  network?: string;
  /** Set when several networks had an address and one was picked by name. */
  note?: string;
}

type Endpoint = { IPAddress?: string | null; GlobalIPv6Address?: string | null };

/** `SERVICE_IP_FAMILY`: which of a network's addresses to register. */
export type IpFamily = "ipv4" | "ipv6";

/** An endpoint's IPv4 address, or its IPv6 address when it has no IPv4 (or IPv6 was asked for). */
const endpointIp = (e: Endpoint | undefined, family?: IpFamily): string =>
  family === "ipv6" ? e?.GlobalIPv6Address || "" : e?.IPAddress || e?.GlobalIPv6Address || "";

const networksOf = (c: ContainerInspect): Record<string, Endpoint> => (c.NetworkSettings?.Networks ?? {}) as Record<string, Endpoint>;

/**
 * The container's own IP: the network named by HostConfig.NetworkMode ("default" = "bridge") when
 * it has an address; otherwise the first network by name that has one (noted, so it can be logged);
 * otherwise the legacy NetworkSettings.IPAddress / GlobalIPv6Address (gone in API ≥ 1.52).
 * With family "ipv6" only IPv6 addresses count.
 */
export function containerAddress(c: ContainerInspect, family?: IpFamily): ContainerAddress {
  const nets = networksOf(c);
  const mode = c.HostConfig?.NetworkMode ?? "";
  const wanted = mode === "default" || mode === "" ? "bridge" : mode;
  const own = Object.hasOwn(nets, wanted) ? endpointIp(nets[wanted], family) : "";
  if (own) return { ip: own, network: wanted };
  const withIp = Object.keys(nets)
    .sort()
    .filter((n) => endpointIp(nets[n], family) !== "");
  const first = withIp[0];
  if (first !== undefined) {
    const note =
      withIp.length > 1
        ? `Container "${c.Name.replace(/^\//, "")}" has addresses on networks ${withIp.map((n) => `"${n}"`).join(", ")}: using "${first}" (the first by name)`
        : undefined;
    return { ip: endpointIp(nets[first], family), network: first, ...(note ? { note } : {}) };
  }
  const legacy = c.NetworkSettings;
  return { ip: family === "ipv6" ? legacy?.GlobalIPv6Address || "" : legacy?.IPAddress || legacy?.GlobalIPv6Address || "" };
}

/**
 * The container's IP on one Docker network (`-network`, `SERVICE_NETWORK`), or why there is none:
 * `problem` is the `ignored` reason for the port, e.g. `network "b" not attached (has: a, bridge)`.
 */
export function addressOnNetwork(c: ContainerInspect, network: string, family?: IpFamily): { ip: string } | { problem: string } {
  const nets = networksOf(c);
  if (!Object.hasOwn(nets, network)) {
    const has = Object.keys(nets).sort();
    return { problem: `network ${JSON.stringify(network)} not attached (has: ${has.length ? has.join(", ") : "none"})` };
  }
  const ip = endpointIp(nets[network], family);
  if (ip) return { ip };
  return { problem: `network ${JSON.stringify(network)} gives the container no ${family === "ipv6" ? "IPv6 " : ""}address` };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A plain IPv4 or IPv6 address (no brackets, no zone, no prefix length). */
export function isIp(s: string): boolean {
  if (IPV4.test(s)) return true;
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    return new URL(`http://[${s}]/`).hostname !== "";
  } catch {
    return false;
  }
}

/** `-useIpFromLabel`: the label's value with the text from the last "/" dropped (CIDR → IP). */
export function ipFromLabel(value: string): string {
  const slash = value.lastIndexOf("/");
  return (slash >= 0 ? value.slice(0, slash) : value).trim();
}

/**
 * Default service name: basename of the image reference without digest or tag:
 * `registry:5000/org/app:1.2@sha256:…` → `app` (registrator gave `app@sha256` for digests: fixed).
 */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0] ?? "";
  const base = noDigest.slice(noDigest.lastIndexOf("/") + 1);
  return base.split(":")[0] ?? "";
}

// Docker resolves any unique prefix of an image ID; below 4 digits a repository name is likelier.
const HEX_ID = /^[0-9a-f]{4,64}$/;

/**
 * The image ID when `Config.Image` names the image by ID rather than by repository (#701):
 * `sha256:<hex>` (as `docker run sha256:…` and Compose-built images leave it), or bare hex that
 * begins the container's image ID (`docker run <image id>`). A hex-looking repository name that is
 * not the image's ID stays a name. Undefined for every other reference.
 */
export function imageIdOf(ref: string, imageId: string | null | undefined): string | undefined {
  const id = imageId ?? "";
  if (ref.startsWith("sha256:") && HEX_ID.test(ref.slice("sha256:".length))) return id.startsWith(ref) ? id : ref;
  if (HEX_ID.test(ref) && id.startsWith(`sha256:${ref}`)) return id;
  return undefined;
}
