// Pure conversions from neutral services to the Consul agent's register body: checks and Meta.
// Only fields the agent knows are produced (it rejects unknown fields with 400).

import { parseGoDuration } from "../services/duration.ts";
import type { CheckDef, Service } from "../types.ts";

export interface ConsulCheck {
  CheckID?: string;
  Name?: string;
  Notes?: string;
  HTTP?: string;
  Method?: string;
  TLSSkipVerify?: boolean;
  TCP?: string;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  Args?: string[];
  Header?: Record<string, string[]>;
  Body?: string;
  TLSServerName?: string;
  UDP?: string;
  H2PING?: string;
  H2PingUseTLS?: boolean;
  DockerContainerID?: string;
  Shell?: string;
  OutputMaxSize?: number;
  SuccessBeforePassing?: number;
  FailuresBeforeCritical?: number;
  TTL?: string;
  Interval?: string;
  Timeout?: string;
  Status?: "passing" | "warning" | "critical";
  DeregisterCriticalServiceAfter?: string;
}

/** What a bad input costs: the part named is left out, the rest is sent. */
export interface Dropped {
  key: string;
  reason: string;
}

export const DEFAULT_INTERVAL = "10s";
export const META_MAX_KEYS = 64;
export const META_MAX_KEY_LENGTH = 128;
export const META_MAX_VALUE_BYTES = 512;

// The one Go duration parser (Go's limits included): a value it accepts is one the agent accepts.
export { parseGoDuration };

const DURATION_HINT = "a Go duration such as 10s, 1m30s or 500ms";

function duration(field: string, value: string | undefined, positive: boolean): string | undefined {
  if (value === undefined) return undefined;
  const ns = parseGoDuration(value);
  if (ns === undefined) return `${field} "${value}" is not ${DURATION_HINT}`;
  if (positive && ns <= 0) return `${field} "${value}" must be greater than zero`;
  if (ns < 0) return `${field} "${value}" must not be negative`;
  return undefined;
}

/** Checks whose command the agent runs (Consul's ScriptArgs): gated by -allow-script-checks. */
function isScript(def: CheckDef): boolean {
  return def.kind === "script" || def.kind === "cmd" || def.kind === "docker";
}

/** One neutral check → the agent's shape, or the reason it cannot be sent. */
export function toConsulCheck(def: CheckDef, allowScriptChecks: boolean): ConsulCheck | { problem: string } {
  if (isScript(def) && !allowScriptChecks) {
    return { problem: `${def.kind} checks are only forwarded with -allow-script-checks` };
  }
  const interval = def.interval ?? DEFAULT_INTERVAL;
  const problem =
    (def.kind === "ttl" ? duration("ttl", def.ttl, true) : duration("interval", interval, true)) ??
    duration("timeout", def.timeout, true) ??
    duration("deregister_after", def.deregisterAfter, false);
  if (problem) return { problem };
  const c: ConsulCheck = {};
  switch (def.kind) {
    case "http":
    case "https":
      if (!def.target) return { problem: `${def.kind} check has no URL` };
      c.HTTP = def.target;
      if (def.method) c.Method = def.method;
      if (def.headers && Object.keys(def.headers).length > 0) c.Header = Object.fromEntries(Object.entries(def.headers).map(([k, v]) => [k, [...v]]));
      if (def.body) c.Body = def.body;
      if (def.tlsSkipVerify) c.TLSSkipVerify = true;
      break;
    case "tcp":
      if (!def.target) return { problem: "tcp check has no address" };
      c.TCP = def.target;
      break;
    case "grpc":
      if (!def.target) return { problem: "grpc check has no address" };
      c.GRPC = def.target;
      if (def.grpcUseTLS) c.GRPCUseTLS = true;
      if (def.tlsSkipVerify) c.TLSSkipVerify = true;
      break;
    case "udp":
      if (!def.target) return { problem: "udp check has no address" };
      c.UDP = def.target;
      break;
    case "h2ping":
      if (!def.target) return { problem: "h2ping check has no address" };
      c.H2PING = def.target;
      // Sent either way: the agent takes an absent H2PingUseTLS as true.
      c.H2PingUseTLS = def.h2pingUseTLS !== false;
      if (def.tlsSkipVerify) c.TLSSkipVerify = true;
      break;
    case "docker":
      if (!def.args || def.args.length === 0) return { problem: "docker check has no command" };
      if (!def.containerId) return { problem: "docker check has no container" };
      c.DockerContainerID = def.containerId;
      c.Shell = def.args[0];
      c.Args = [...def.args];
      break;
    case "ttl":
      if (!def.ttl) return { problem: "ttl check has no TTL" };
      c.TTL = def.ttl;
      break;
    case "script":
    case "cmd":
      if (!def.args || def.args.length === 0) return { problem: `${def.kind} check has no command` };
      c.Args = [...def.args];
      break;
    default:
      return { problem: `unknown check kind "${(def as CheckDef).kind}"` };
  }
  if (def.tlsServerName) c.TLSServerName = def.tlsServerName;
  const count = (field: string, v: number | undefined, min: number): string | undefined =>
    v === undefined || (Number.isSafeInteger(v) && v >= min) ? undefined : `${field} ${v} must be a whole number, ${min} or more`;
  const bad =
    count("OutputMaxSize", def.outputMaxSize, 1) ??
    count("SuccessBeforePassing", def.successBeforePassing, 0) ??
    count("FailuresBeforeCritical", def.failuresBeforeCritical, 0);
  if (bad) return { problem: bad };
  if (def.outputMaxSize !== undefined) c.OutputMaxSize = def.outputMaxSize;
  if (def.successBeforePassing !== undefined) c.SuccessBeforePassing = def.successBeforePassing;
  if (def.failuresBeforeCritical !== undefined) c.FailuresBeforeCritical = def.failuresBeforeCritical;
  if (def.kind !== "ttl") c.Interval = interval;
  if (def.timeout && def.kind !== "ttl") c.Timeout = def.timeout;
  if (def.initialStatus) c.Status = def.initialStatus;
  if (def.deregisterAfter) c.DeregisterCriticalServiceAfter = def.deregisterAfter;
  return c;
}

export function toConsulChecks(defs: CheckDef[], allowScriptChecks: boolean): { checks: ConsulCheck[]; dropped: Dropped[] } {
  const checks: ConsulCheck[] = [];
  const dropped: Dropped[] = [];
  defs.forEach((def, i) => {
    const r = toConsulCheck(def, allowScriptChecks);
    if ("problem" in r) dropped.push({ key: `check ${i + 1} (${def.kind})`, reason: r.problem });
    else checks.push(r);
  });
  return { checks, dropped };
}

/** The CheckID of the registrator-owned TTL check that -ttl/-ttl-refresh heartbeats. */
export function heartbeatCheckId(serviceId: string): string {
  return `registrator:${serviceId}`;
}

/** The registrator-owned TTL check; DeregisterCriticalServiceAfter from the `check_deregister_after` attr. */
export function heartbeatCheck(service: Service, ttlSeconds: number): { check: ConsulCheck; dropped?: Dropped } {
  const check: ConsulCheck = {
    CheckID: heartbeatCheckId(service.id),
    Name: "registrator heartbeat",
    Notes: `Passed by registrator every -ttl-refresh; critical when registrator stops refreshing for ${ttlSeconds}s`,
    TTL: `${ttlSeconds}s`,
    Status: "passing",
  };
  const after = service.attrs.check_deregister_after;
  if (after === undefined || after === "") return { check };
  const problem = duration("check_deregister_after", after, false);
  if (problem) return { check, dropped: { key: "check_deregister_after", reason: `${problem}; heartbeat check sent without it` } };
  check.DeregisterCriticalServiceAfter = after;
  return { check };
}

/** The CheckID of the registrator-owned check that mirrors Docker's health (`-health auto`). */
export function mirrorCheckId(serviceId: string): string {
  return `registrator:${serviceId}:docker-health`;
}

/**
 * The mirror check's TTL. The bridge refreshes it (setHealth) every MIRROR_REFRESH_SECONDS; if
 * registrator stops refreshing (it crashed, or the host is gone) the check turns critical after
 * this long, so a service whose health nobody watches any more leaves `?passing` and DNS.
 */
export const MIRROR_TTL_SECONDS = 90;
export const MIRROR_REFRESH_SECONDS = 30;

/** The registrator-owned TTL check that mirrors Docker's health; its status is `service.mirror`'s. */
export function mirrorCheck(service: Service & { mirror: NonNullable<Service["mirror"]> }): ConsulCheck {
  return {
    CheckID: mirrorCheckId(service.id),
    Name: "Docker health",
    Notes: `Docker's HEALTHCHECK of container "${service.origin.containerName}", mirrored by registrator (-health auto); critical when starting, unhealthy or paused, or when registrator stops refreshing it for ${MIRROR_TTL_SECONDS}s`,
    TTL: `${MIRROR_TTL_SECONDS}s`,
    Status: service.mirror.status,
  };
}

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Why Consul would refuse this Meta key/value (parity "Precise rules → Consul Meta"), or undefined. */
export function metaProblem(key: string, value: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(key)) return "Meta keys may only contain letters, digits, _ and -";
  if (key.length > META_MAX_KEY_LENGTH) return `Meta keys are at most ${META_MAX_KEY_LENGTH} characters`;
  if (key.startsWith("consul-")) return 'the "consul-" Meta key prefix is reserved';
  if (byteLength(value) > META_MAX_VALUE_BYTES) return `Meta values are at most ${META_MAX_VALUE_BYTES} bytes`;
  return undefined;
}

/**
 * Service attrs → Consul Meta. Keys are taken in sorted order so the result (and the fingerprint) does
 * not depend on where an attribute came from; invalid keys and keys past the 64th are dropped.
 */
export function consulMeta(attrs: Record<string, string>): { meta: Record<string, string>; dropped: Dropped[] } {
  const meta: Record<string, string> = Object.create(null);
  const dropped: Dropped[] = [];
  let count = 0;
  for (const key of Object.keys(attrs).sort()) {
    const value = attrs[key] ?? "";
    const problem = metaProblem(key, value);
    if (problem) dropped.push({ key, reason: problem });
    else if (count >= META_MAX_KEYS) dropped.push({ key, reason: `Consul allows at most ${META_MAX_KEYS} Meta keys` });
    else {
      meta[key] = value;
      count++;
    }
  }
  return { meta, dropped };
}

/** Consul's Weights for a service (absent: the agent's default, 1 and 1). */
export function consulWeights(service: Service): { Passing: number; Warning: number } {
  return { Passing: service.weights?.passing ?? 1, Warning: service.weights?.warning ?? 1 };
}
