// Blocking queries (protocols.md 2.6): ?index=&wait= parsed as the agent's parseWait does
// (the rules live in src/http/consul-query.ts, shared with the embedded registry), then wait until the watched index passes `index`, the wait (default 5m, max 10m, plus up to
// wait/16 of jitter) elapses, the client goes away, or the agent restarts.

import { QueryError, effectiveWaitMs, parseBlocking } from "../../../src/http/consul-query.ts";
import { type Ctx, HttpError, query } from "./http.ts";
import type { ConsulState } from "./state.ts";

export { DEFAULT_WAIT_MS, MAX_WAIT_MS, effectiveWaitMs } from "../../../src/http/consul-query.ts";

export interface WaitParams {
  index: bigint;
  waitMs: number;
}

/** Parses ?wait and ?index with the rules registrator's own Consul API uses (src/http/consul-query.ts). */
export function parseWait(c: Ctx): WaitParams {
  try {
    return parseBlocking(query(c));
  } catch (e) {
    if (e instanceof QueryError) throw new HttpError(e.status, e.message);
    throw e;
  }
}

/**
 * Waits while `current()` is not above `params.index` (no wait when index is 0). Resolves on
 * change, timeout, client disconnect or restart; the caller then answers with the current state.
 */
export function blockWhile(state: ConsulState, c: Ctx, params: WaitParams, unchanged: () => boolean): Promise<void> {
  if (params.index === 0n || !unchanged()) return Promise.resolve();
  const generation = state.generation;
  const signal = c.req.raw.signal;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, effectiveWaitMs(params.waitMs));
    const unsubscribe = state.onChange(() => {
      if (state.generation !== generation || !unchanged()) done();
    });
    signal.addEventListener("abort", done);
  });
}

/** Blocks a read keyed by a Raft index: returns when `index()` exceeds the client's index. */
export function blockOnIndex(state: ConsulState, c: Ctx, params: WaitParams, index: () => number): Promise<void> {
  return blockWhile(state, c, params, () => BigInt(index()) <= params.index);
}
