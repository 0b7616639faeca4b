// Blocking queries (protocols.md 2.6): ?index=&wait= parsed as the agent's parseWait does
// (query.ts), then wait until the watched index passes `index`, the wait (default 5m, max 10m,
// plus up to wait/16 of jitter) elapses, the client goes away, or the agent restarts.

import { type Ctx, query } from "./http.ts";
import { type WaitParams, blockingTimeoutMs, parseWaitQuery } from "./query.ts";
import type { ConsulState } from "./state.ts";

export type { WaitParams } from "./query.ts";

export function parseWait(c: Ctx): WaitParams {
  return parseWaitQuery(query(c));
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
    const timer = setTimeout(done, blockingTimeoutMs(params.waitMs));
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
