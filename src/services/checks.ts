// Consul check metadata → backend-neutral CheckDef[] (parity.md "Consul check metadata").
//
// Group 1 is the unnumbered `CHECK_*` keys; groups 2, 3, ... are `CHECK_<n>_*` (n ≥ 2, no leading
// zero). Each group yields at most one check: the first present kind in registrator's order
// http > https > cmd > script > ttl > tcp > grpc, then the kinds Consul added later, udp > h2ping
// > docker. Each group has its own INTERVAL, TIMEOUT, *_METHOD, TLS_SKIP_VERIFY, GRPC_USE_TLS,
// INITIAL_STATUS, DEREGISTER_AFTER, HTTP_HEADER_<Name>, HTTP_BODY, TLS_SERVER_NAME,
// H2PING_USE_TLS, OUTPUT_MAX_SIZE, SUCCESS_BEFORE_PASSING and FAILURES_BEFORE_CRITICAL with the
// same defaults as group 1 (interval 10s); a numbered group does not inherit group 1's values.
//
// Script, CMD and DOCKER kinds (commands the agent runs) are used only with -allow-script-checks;
// otherwise each present one is dropped with a warning and the next present kind is used. Any
// other bad value (path without a leading "/", bad duration, non-positive TTL, unknown method or
// initial status, a header name that is not an HTTP token, a count that is not a whole number)
// drops that group's check with a warning; there is no fallback to the next kind then.

import type { CheckDef } from "../types.ts";
import { isPositiveGoDuration } from "./duration.ts";
import { parseBool } from "./metadata.ts";

export interface CheckInput {
  /** Lower-cased metadata keys (metadata.ts) → raw values. */
  meta: Record<string, string>;
  /** Lower-cased key → key as written, for warnings. */
  source?: Record<string, string>;
  /** Address and port the service is registered with (targets of http/https/tcp/grpc). */
  ip: string;
  port: number;
  containerId: string;
  containerName: string;
  exposedPort: string | number;
  allowScriptChecks: boolean;
}

export interface ChecksResult {
  checks: CheckDef[];
  warnings: string[];
}

const KINDS = ["http", "https", "cmd", "script", "ttl", "tcp", "grpc", "udp", "h2ping", "docker"] as const;
/** Kinds set by a boolean (`CHECK_TCP=true`): their target is the service's own address. */
const BOOLEAN_KINDS: ReadonlySet<Kind> = new Set(["tcp", "grpc", "udp", "h2ping"]);
/** Kinds whose command the agent runs: forwarded only with -allow-script-checks. */
const COMMAND_KINDS: ReadonlySet<Kind> = new Set(["cmd", "script", "docker"]);
type Kind = (typeof KINDS)[number];
const NUMBERED = /^check_([2-9]|[1-9]\d+)_(.+)$/s;
const METHOD = /^[A-Za-z]+$/;
const STATUSES = new Set(["passing", "warning", "critical"]);
/** RFC 9110 token: what an HTTP header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_PREFIX = "http_header_";
/** A host name for SNI: letters, digits, dots, dashes. */
const SERVER_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
/** Go's int on 64-bit is wider, but a count past this is a typo, and JSON numbers stay exact below it. */
const MAX_COUNT = 2 ** 31 - 1;
const DURATION_RULE = 'a positive Go duration such as "10s", "1m30s" or "500ms"';

/** `ip:port`, with IPv6 addresses in brackets. */
export function hostPort(ip: string, port: number | string): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A bad value: the check of its group is dropped with a warning naming `key`. */
class BadCheck extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly rule: string,
  ) {
    super(rule);
  }
}

/** What a port without checks gets: one frozen empty list shared by all, not one per service. */
const NO_CHECKS = Object.freeze([]) as unknown as CheckDef[];

export function deriveChecks(input: CheckInput): ChecksResult {
  const checks: CheckDef[] = [];
  const warnings: string[] = [];
  const groups = new Set<number>();
  for (const key of Object.keys(input.meta)) {
    const m = NUMBERED.exec(key);
    if (m) groups.add(Number(m[1]));
  }
  for (const n of [1, ...[...groups].sort((a, b) => a - b)]) {
    const check = groupCheck(input, n === 1 ? "check_" : `check_${n}_`, warnings);
    if (check) checks.push(check);
  }
  return { checks: checks.length > 0 ? checks : NO_CHECKS, warnings };
}

function keyName(input: CheckInput, key: string): string {
  return input.source?.[key] ?? `SERVICE_${key.toUpperCase()}`;
}

function groupCheck(input: CheckInput, prefix: string, warnings: string[]): CheckDef | undefined {
  const get = (k: string): string | undefined => input.meta[prefix + k];
  const present = (kind: Kind): boolean =>
    BOOLEAN_KINDS.has(kind) ? parseBool(get(kind)) : (get(kind) ?? "").trim() !== "";
  const who = `container "${input.containerName}"`;
  let sawKind = false;
  for (const kind of KINDS) {
    if (!present(kind)) continue;
    sawKind = true;
    if (COMMAND_KINDS.has(kind) && !input.allowScriptChecks) {
      warnings.push(
        `Dropped the ${kind} check ${keyName(input, prefix + kind)} of ${who}: script checks are disabled (start registrator with -allow-script-checks to forward them)`,
      );
      continue;
    }
    try {
      return buildCheck(input, kind, prefix);
    } catch (e) {
      if (!(e instanceof BadCheck)) throw e;
      warnings.push(`Dropped the ${kind} check of ${who}: ${keyName(input, e.key)} "${e.value}" ${e.rule}`);
      return undefined;
    }
  }
  const isKind = (rest: string): boolean => (KINDS as readonly string[]).includes(rest);
  const stray = Object.keys(input.meta).find((k) => k.startsWith(prefix) && !isKind(k.slice(prefix.length)));
  if (prefix !== "check_" && !sawKind && stray !== undefined) {
    const kinds = KINDS.map((k) => (prefix + k).toUpperCase()).join(", ");
    warnings.push(`Ignored ${keyName(input, stray)} of ${who}: no check kind is set in its group (one of ${kinds})`);
  }
  return undefined;
}

function buildCheck(input: CheckInput, kind: Kind, prefix: string): CheckDef {
  const get = (k: string): string | undefined => input.meta[prefix + k]?.trim();
  const value = get(kind) ?? "";
  const def: CheckDef = { kind };
  const duration = (k: string): string | undefined => {
    const v = get(k);
    if (v === undefined || v === "") return undefined;
    if (!isPositiveGoDuration(v)) throw new BadCheck(prefix + k, v, `is not ${DURATION_RULE}`);
    return v;
  };
  switch (kind) {
    case "http":
    case "https": {
      if (!value.startsWith("/") || /[\s\u0000-\u001f\u007f]/.test(value)) {
        throw new BadCheck(prefix + kind, value, 'is not a path starting with "/" without whitespace (e.g. "/health")');
      }
      def.target = `${kind}://${hostPort(input.ip, input.port)}${value}`;
      const method = get(`${kind}_method`);
      if (method) {
        if (!METHOD.test(method)) {
          throw new BadCheck(`${prefix}${kind}_method`, method, 'is not an HTTP method such as "GET" or "HEAD"');
        }
        def.method = method.toUpperCase();
      }
      if (kind === "https" && parseBool(get("tls_skip_verify"))) def.tlsSkipVerify = true;
      break;
    }
    case "cmd":
      def.args = ["check-cmd", input.containerId.slice(0, 12), String(input.exposedPort), value];
      break;
    case "script": {
      const cmd = value.replaceAll("$SERVICE_IP", input.ip).replaceAll("$SERVICE_PORT", String(input.port));
      def.args = ["/bin/sh", "-c", cmd];
      break;
    }
    case "ttl":
      if (!isPositiveGoDuration(value)) throw new BadCheck(prefix + kind, value, `is not ${DURATION_RULE}`);
      def.ttl = value;
      break;
    case "tcp":
      def.target = hostPort(input.ip, input.port);
      break;
    case "grpc":
      def.target = hostPort(input.ip, input.port);
      if (parseBool(get("grpc_use_tls"))) def.grpcUseTLS = true;
      if (parseBool(get("tls_skip_verify"))) def.tlsSkipVerify = true;
      break;
    case "udp":
      def.target = hostPort(input.ip, input.port);
      break;
    case "h2ping": {
      def.target = hostPort(input.ip, input.port);
      // Consul speaks TLS to an H2PING target unless told otherwise: absent means true.
      const tls = get("h2ping_use_tls");
      def.h2pingUseTLS = tls === undefined || tls === "" ? true : parseBool(tls);
      if (def.h2pingUseTLS && parseBool(get("tls_skip_verify"))) def.tlsSkipVerify = true;
      break;
    }
    case "docker":
      def.args = ["/bin/sh", "-c", value];
      def.containerId = input.containerId;
      break;
  }
  if (kind === "http" || kind === "https") {
    const headers = httpHeaders(input, prefix);
    if (headers) def.headers = headers;
    const body = input.meta[prefix + "http_body"];
    if (body !== undefined && body !== "") def.body = body;
  }
  if (kind === "https" || kind === "grpc" || kind === "h2ping") {
    const name = get("tls_server_name");
    if (name) {
      if (!SERVER_NAME.test(name) || name.length > 253) throw new BadCheck(prefix + "tls_server_name", name, "is not a host name such as api.example.com");
      def.tlsServerName = name;
    }
  }
  const count = (k: string, min: number): number | undefined => {
    const v = get(k);
    if (v === undefined || v === "") return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= MAX_COUNT)) throw new BadCheck(prefix + k, v, `is not a whole number from ${min} to ${MAX_COUNT}`);
    return n;
  };
  const outputMax = count("output_max_size", 1);
  if (outputMax !== undefined) def.outputMaxSize = outputMax;
  const successes = count("success_before_passing", 0);
  if (successes !== undefined) def.successBeforePassing = successes;
  const failures = count("failures_before_critical", 0);
  if (failures !== undefined) def.failuresBeforeCritical = failures;
  if (kind !== "ttl") {
    def.interval = duration("interval") ?? "10s";
    const timeout = duration("timeout");
    if (timeout) def.timeout = timeout;
  }
  const deregisterAfter = duration("deregister_after");
  if (deregisterAfter) def.deregisterAfter = deregisterAfter;
  const status = get("initial_status");
  if (status) {
    const s = status.toLowerCase();
    if (!STATUSES.has(s)) throw new BadCheck(prefix + "initial_status", status, 'is not one of "passing", "warning", "critical"');
    def.initialStatus = s as CheckDef["initialStatus"];
  }
  return def;
}

/**
 * `CHECK_HTTP_HEADER_<Name>=v1[,v2]` of one group → `{Name: [v1, v2]}`. Metadata keys are
 * lower-cased, so the name is taken as written from the key's source where it can be.
 */
function httpHeaders(input: CheckInput, prefix: string): Record<string, string[]> | undefined {
  const start = prefix + HEADER_PREFIX;
  let out: Record<string, string[]> | undefined;
  for (const key of Object.keys(input.meta).sort()) {
    if (!key.startsWith(start) || key.length === start.length) continue;
    const lower = key.slice(start.length);
    const written = input.source?.[key];
    const name = written && written.toLowerCase().endsWith(lower) ? written.slice(written.length - lower.length) : lower;
    if (!HEADER_NAME.test(name)) throw new BadCheck(key, name, "is not an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)");
    const raw = input.meta[key] ?? "";
    const values = raw.split(",").map((v) => v.trim()).filter((v) => v !== "");
    if (values.length === 0 || values.some((v) => /[\u0000-\u001f\u007f]/.test(v))) {
      throw new BadCheck(key, raw, "is not a header value: one or more comma-separated values without control characters");
    }
    // Keys are unique once lower-cased (metadata.ts merges env and labels), so names are too.
    (out ??= Object.create(null) as Record<string, string[]>)[name] = values;
  }
  return out;
}
