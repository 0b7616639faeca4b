// The one backoff rule: every retry loop (Docker reconnects, the first registry ping, failed
// registry writes) takes its delays from here, so a change to how registrator backs off lands once.

export interface BackoffOptions {
  /** First delay, in milliseconds. */
  minMs: number;
  /** Delays never grow past this. */
  maxMs: number;
  /** Each failure multiplies the delay by this (default 2). */
  factor?: number;
}

/** Exponential backoff: `next()` gives the delay to wait now and grows the following one; `reset()` after a success. */
export class Backoff {
  private current: number;

  constructor(private readonly o: BackoffOptions) {
    this.current = o.minMs;
  }

  /** The delay to wait before the next attempt. */
  next(): number {
    const delay = this.current;
    this.current = Math.min(Math.max(delay * (this.o.factor ?? 2), this.o.minMs), this.o.maxMs);
    return delay;
  }

  /** The delay the next call of `next()` will give, without growing it. */
  peek(): number {
    return this.current;
  }

  reset(): void {
    this.current = this.o.minMs;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface RetryOptions {
  /** Retries after the first attempt; -1 retries forever. */
  retries: number;
  /** Where the delays come from: a Backoff, or a fixed number of milliseconds. */
  delay: Backoff | number;
  signal?: AbortSignal;
  /** An error for which retrying makes no sense (bad configuration): thrown at once. */
  fatal?: (e: unknown) => boolean;
  /** Told before each wait: the error, the attempt that failed (0-based) and the delay. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
}

/** `fn` until it resolves; its last error when the retries run out or the signal aborts. */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (o.fatal?.(e) || (o.retries !== -1 && attempt >= o.retries) || o.signal?.aborted) throw e;
      const ms = typeof o.delay === "number" ? o.delay : o.delay.next();
      o.onRetry?.(e, attempt, ms);
      await sleep(ms, o.signal);
      if (o.signal?.aborted) throw e;
    }
  }
}
