// The agent's checks on a service definition before it is added (protocols.md 2.3):
// weights, metadata, check types and statuses, tagged addresses. Texts as the Go agent writes them.

import type { CheckDef, ServiceDef } from "./schemas.ts";

const META_MAX_PAIRS = 64;
const META_KEY_MAX = 128;
const META_VALUE_MAX = 512;
const META_KEY_RE = /^[a-zA-Z0-9_-]+$/;

const bytes = (s: string) => new TextEncoder().encode(s).length;

/** structs.ValidateWeights; the caller prefixes "Invalid Weights: ". */
export function weightsError(w: { Passing?: number; Warning?: number }): string | undefined {
  const passing = w.Passing ?? 0;
  const warning = w.Warning ?? 0;
  if (passing < 1) return "Passing must be greater than 0";
  if (warning < 0) return "Warning must be greater or equal than 0";
  if (passing > 65535 || warning > 65535) return "DNS Weight must be between 0 and 65535";
  return undefined;
}

/** structs.ValidateServiceMetadata (consul- prefix not allowed); the caller prefixes "Invalid Service Meta: ". */
export function metaError(meta: Record<string, string> | undefined): string | undefined {
  if (!meta) return undefined;
  const entries = Object.entries(meta);
  if (entries.length > META_MAX_PAIRS) return `Node metadata cannot contain more than ${META_MAX_PAIRS} key/value pairs`;
  for (const [key, value] of entries) {
    let reason: string | undefined;
    if (key === "") reason = "Key cannot be blank";
    else if (!META_KEY_RE.test(key)) reason = "Key contains invalid characters";
    else if (bytes(key) > META_KEY_MAX) reason = `Key is too long (limit: ${META_KEY_MAX} characters)`;
    else if (key.startsWith("consul-")) reason = "Key prefix 'consul-' is reserved for internal use";
    else if (bytes(value) > META_VALUE_MAX) reason = `Value is too long (limit: ${META_VALUE_MAX} characters)`;
    if (reason) return `Couldn't load metadata pair ('${key}', '${value}'): ${reason}`;
  }
  return undefined;
}

export const isScript = (c: CheckDef) => (c.ScriptArgs?.length ?? 0) > 0;
const isAlias = (c: CheckDef) => c.AliasNode !== "" || c.AliasService !== "";

/** CheckType.Validate; the caller prefixes "Invalid check: ". */
export function checkError(c: CheckDef): string | undefined {
  const intervalCheck = isScript(c) || c.HTTP !== "" || c.TCP !== "" || c.UDP !== "" || c.GRPC !== "" || c.H2PING !== "" || c.OSService !== "";
  if (c.Interval > 0n && c.TTL > 0n) return "Interval and TTL cannot both be specified";
  if (intervalCheck && c.Interval <= 0n) return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks";
  if (intervalCheck && isAlias(c)) return "Interval cannot be set for Alias checks";
  if (isAlias(c) && c.TTL > 0n) return "TTL must be not be set for Alias checks";
  if (!intervalCheck && !isAlias(c) && c.TTL <= 0n) return "TTL must be > 0 for TTL checks";
  if (c.OutputMaxSize < 0) return "MaxOutputMaxSize must be positive";
  if (c.FailuresBeforeWarning > c.FailuresBeforeCritical) return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical";
  return undefined;
}

export const VALID_STATUSES = ["passing", "warning", "critical"];

/** CheckType.Type(): the kind shown in the check's "Type" field. */
export function checkKind(c: CheckDef): string {
  const interval = c.Interval > 0n;
  if (c.GRPC && interval) return "grpc";
  if (c.HTTP && interval) return "http";
  if (c.TTL > 0n) return "ttl";
  if (c.TCP && interval) return "tcp";
  if (c.UDP && interval) return "udp";
  if (isAlias(c)) return "alias";
  if (isScript(c) && c.DockerContainerID && interval) return "docker";
  if (isScript(c)) return "script";
  if (c.H2PING && interval) return "h2ping";
  if (c.OSService && interval) return "os_service";
  return "";
}

export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function isIPv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/** ipaddr.IsAny: the unspecified address a service must not register with. */
export function isAnyAddress(s: string): boolean {
  return s === "0.0.0.0" || s === "::" || s === "[::]";
}

/** Agent.validateService's tagged-address rule (returned as a plain error, i.e. HTTP 500). */
export function taggedAddressError(def: ServiceDef): string | undefined {
  const t = def.TaggedAddresses;
  if (!t) return undefined;
  for (const key of ["lan_ipv4", "wan_ipv4"]) {
    const a = t[key];
    if (a && !isIPv4(a.Address ?? "")) return `Service tagged address "${key}" must be a valid ipv4 address`;
  }
  const v6 = t.lan_ipv6; // the agent checks lan_ipv6 twice and never wan_ipv6
  if (v6 && !isIPv6(v6.Address ?? "")) return `Service tagged address "lan_ipv6" must be a valid ipv6 address`;
  return undefined;
}
