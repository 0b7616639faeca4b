// Consul's HTTP query rules, shared by the embedded registry's API and the Consul emulator of the
// tests: blocking parameters (agent/http.go parseWait, agent/consul/rpc.go blockingQuery),
// consistency, ?tag=, ?passing, ?node-meta=. Pure: every function takes the query string.

import { parseGoDuration } from "../services/duration.ts";

/** Consul's default wait of a blocking query, its ceiling, and the jitter divisor. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
export const JITTER_FRACTION = 16;

const MAX_UINT64 = (1n << 64n) - 1n;

/** A query Consul refuses, with the status and the plain-text body it answers. */
export class QueryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface BlockingParams {
  /** The client's index; 0 means "do not block". */
  index: bigint;
  /** The asked wait in ms; 0 when absent (the default then applies). */
  waitMs: number;
}

/** ?wait= and ?index= as Consul parses them: empty values are ignored, bad ones are a 400. */
export function parseBlocking(q: URLSearchParams): BlockingParams {
  let waitMs = 0;
  const wait = q.get("wait");
  if (wait) {
    const ns = parseGoDuration(wait);
    if (ns === undefined) throw new QueryError(400, "Invalid wait time");
    waitMs = ns / 1e6;
  }
  let index = 0n;
  const idx = q.get("index");
  if (idx) {
    if (!/^\d+$/.test(idx) || BigInt(idx) > MAX_UINT64) throw new QueryError(400, "Invalid index");
    index = BigInt(idx);
  }
  return { index, waitMs };
}

/**
 * The server-side time a blocking query may wait: the asked wait capped at 10 min, 5 min when
 * absent or not positive, plus a random jitter of up to wait/16 (so watchers spread out).
 */
export function effectiveWaitMs(waitMs: number, random: () => number = Math.random): number {
  const base = waitMs > MAX_WAIT_MS ? MAX_WAIT_MS : waitMs <= 0 ? DEFAULT_WAIT_MS : waitMs;
  return base + Math.floor(random() * (base / JITTER_FRACTION));
}

export type Consistency = "leader" | "stale" | "consistent";

/** ?stale / ?consistent (present, whatever the value); both together is Consul's 400. */
export function parseConsistency(q: URLSearchParams): Consistency {
  const stale = q.has("stale");
  const consistent = q.has("consistent");
  if (stale && consistent) throw new QueryError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  return stale ? "stale" : consistent ? "consistent" : "leader";
}

/** Every wanted tag must be one of the service's tags, ignoring case (Consul's strings.EqualFold). */
export function matchesTags(own: readonly string[] | null | undefined, wanted: readonly string[]): boolean {
  if (wanted.length === 0) return true;
  const lower = new Set((own ?? []).map((t) => t.toLowerCase()));
  return wanted.every((t) => lower.has(t.toLowerCase()));
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** ?passing: absent → false, bare or empty → true, else Go's strconv.ParseBool. */
export function parsePassing(q: URLSearchParams): boolean {
  if (!q.has("passing")) return false;
  const v = q.get("passing") ?? "";
  if (v === "" || TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new QueryError(400, `Invalid value for ?passing: "${v}" (expected true or false)`);
}

/** ?node-meta=key:value (repeatable): [key, value] pairs, split at the first colon. */
export function parseNodeMeta(q: URLSearchParams): Array<[string, string]> {
  return q.getAll("node-meta").map((raw) => {
    const at = raw.indexOf(":");
    return at < 0 ? [raw, ""] : [raw.slice(0, at), raw.slice(at + 1)];
  });
}

/** The node's meta holds every wanted pair. */
export function matchesNodeMeta(meta: ReadonlyMap<string, string>, wanted: ReadonlyArray<[string, string]>): boolean {
  return wanted.every(([k, v]) => meta.get(k) === v);
}
