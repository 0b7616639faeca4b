// Blocking queries (protocols.md 2.6): ?index=&wait= parsed as the agent's parseWait does,
// then wait until the watched index passes `index`, the wait (default 5m, max 10m, plus up to
// wait/16 of jitter) elapses, the client goes away, or the agent restarts.

import { parseGoDuration } from "./goduration.ts";
import { type Ctx, HttpError, query } from "./http.ts";
import type { ConsulState } from "./state.ts";

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

export interface WaitParams {
  index: bigint;
  waitMs: number;
}

/** Parses ?wait and ?index; throws 400 "Invalid wait time" / "Invalid index" like the agent. */
export function parseWait(c: Ctx): WaitParams {
  const q = query(c);
  let waitMs = 0;
  const wait = q.get("wait");
  if (wait) {
    try {
      waitMs = Number(parseGoDuration(wait) / 1_000_000n);
    } catch {
      throw new HttpError(400, "Invalid wait time");
    }
  }
  let index = 0n;
  const idx = q.get("index");
  if (idx) {
    if (!/^\d+$/.test(idx) || BigInt(idx) > (1n << 64n) - 1n) throw new HttpError(400, "Invalid index");
    index = BigInt(idx);
  }
  return { index, waitMs };
}

/** The server-side timeout for a wait: capped at 10m, 5m when absent or not positive, plus jitter. */
export function effectiveWaitMs(waitMs: number): number {
  const base = waitMs > MAX_WAIT_MS ? MAX_WAIT_MS : waitMs <= 0 ? DEFAULT_WAIT_MS : waitMs;
  return base + Math.floor(Math.random() * (base / 16));
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
