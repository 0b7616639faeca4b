// The bridge's tuning knobs, in one place. None of them changes what ends up in a registry, only
// how fast and at what cost it gets there; BridgeOptions may override each (the tests do).

export interface BridgePolicy {
  /** Containers inspected at once (the engine serves them; more at once only queue there). */
  concurrency: number;
  /**
   * Per registry, writes in flight at once. Enough for a burst (dozens of containers exiting at
   * once) to go out together: a registry that commits them together (etcd batches concurrent
   * writes into one fsync) answers all of them after one slow disk write, not after one per
   * group of writes (bench/latency.ts, 30 exits at once).
   */
  writeConcurrency: number;
  /**
   * Containers a full sync has in flight (the inspect limiter runs `concurrency` of them at once).
   * A window, not one pending sync per container up front: at 10,000 containers, 10,000 pending
   * syncs alive until the last inspect interleave their garbage with what the sync keeps, and the
   * heap cannot give those blocks back (bench/scale.ts measures it).
   */
  syncWindow: number;
  /**
   * A full sync asks the runtime for a collection every this many containers, so what it keeps
   * is packed with less of their inspects' garbage between.
   */
  collectEvery: number;
  /**
   * How long after a `die` (already applied from the event) its confirming inspect waits; 0: at
   * once. An inspect sent right after `die` waits while the engine tears the container down, and
   * many of them while many containers exit at once add to the engine's load just when every
   * other container's `die` is due (bench/latency.ts, burst of exits). The event already decided;
   * the inspect only confirms, and a `start` in between has its own.
   */
  confirmDieAfterMs: number;
  /** How long a container that got a stop signal and still runs stays out of traffic. */
  stopGraceMs: number;
  /** Failed registry writes are retried after this delay, doubling up to `retryMaxMs`, per registry. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Comparing a registry's listing yields to the event loop every this many entries: a big host does not block it. */
  listYieldEvery: number;
}

export const BRIDGE_POLICY: Readonly<BridgePolicy> = Object.freeze({
  concurrency: 8,
  writeConcurrency: 32,
  syncWindow: 32,
  collectEvery: 250,
  confirmDieAfterMs: 500,
  stopGraceMs: 30_000,
  retryMinMs: 500,
  retryMaxMs: 10_000,
  listYieldEvery: 2000,
});
