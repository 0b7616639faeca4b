// Query-string rules of the emulated agent, written from Consul's own code and not shared with
// registrator (a misreading shared by both could then never fail a test):
//   ?wait= / ?index=   agent/http.go parseWait: time.ParseDuration, then strconv.ParseUint(idx, 10, 64);
//                      empty values are skipped; a bad one answers 400 "Invalid wait time" / "Invalid index".
//   blocking timeout   agent/consul/rpc.go blockingQuery: the wait capped at max_query_time (10m),
//                      default_query_time (5m) when not positive, plus lib.RandomStagger(wait/16).
//   ?tag=              agent/consul/state/catalog.go serviceTagsFilter: every tag, strings.EqualFold.
//   ?passing           agent/health_endpoint.go getBoolQueryParam: present and empty → true, else
//                      strconv.ParseBool; failure → 400 "Invalid value for ?passing".

import { GoDurationError, parseGoDuration } from "./goduration.ts";
import { HttpError } from "./http.ts";

/** Consul's default_query_time and max_query_time, and structs.JitterFraction. */
export const DEFAULT_WAIT_MS = 300_000;
export const MAX_WAIT_MS = 600_000;
const JITTER_FRACTION = 16;

const UINT64_MAX = 18446744073709551615n;

export interface WaitParams {
  /** The client's index; 0n means the query does not block. */
  index: bigint;
  /** The asked wait in ms; 0 when absent. */
  waitMs: number;
}

/** ?wait is checked before ?index, as parseWait does (so `index=abc&wait=x` is a wait error). */
export function parseWaitQuery(q: URLSearchParams): WaitParams {
  const out: WaitParams = { index: 0n, waitMs: 0 };
  const wait = q.get("wait") ?? "";
  if (wait !== "") {
    try {
      out.waitMs = Number(parseGoDuration(wait)) / 1e6;
    } catch (e) {
      if (e instanceof GoDurationError) throw new HttpError(400, "Invalid wait time");
      throw e;
    }
  }
  const index = q.get("index") ?? "";
  if (index !== "") {
    // ParseUint with base 10: digits only (no sign, no underscores), at most 2^64-1.
    const ok = [...index].every((ch) => ch >= "0" && ch <= "9");
    if (!ok || BigInt(index) > UINT64_MAX) throw new HttpError(400, "Invalid index");
    out.index = BigInt(index);
  }
  return out;
}

/** How long the server holds a blocking query, jitter included (`random` in [0, 1)). */
export function blockingTimeoutMs(waitMs: number, random: () => number = Math.random): number {
  let base = waitMs;
  if (base > MAX_WAIT_MS) base = MAX_WAIT_MS;
  if (base <= 0) base = DEFAULT_WAIT_MS;
  return base + Math.floor(random() * (base / JITTER_FRACTION));
}

/** True when the service carries every asked tag, compared case-insensitively. */
export function hasAllTags(serviceTags: readonly string[] | null, asked: readonly string[]): boolean {
  const own = (serviceTags ?? []).map((t) => t.toLowerCase());
  for (const t of asked) if (!own.includes(t.toLowerCase())) return false;
  return true;
}

/** strconv.ParseBool's accepted spellings. */
const GO_BOOL: Record<string, boolean> = {
  "1": true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  "0": false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

export function passingOnly(q: URLSearchParams): boolean {
  if (!q.has("passing")) return false;
  const raw = q.get("passing") ?? "";
  if (raw === "") return true;
  if (!Object.hasOwn(GO_BOOL, raw)) throw new HttpError(400, "Invalid value for ?passing");
  return GO_BOOL[raw]!;
}
