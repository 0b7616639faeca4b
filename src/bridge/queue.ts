/** At most `limit` tasks at once; the rest wait in FIFO order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Serializes work per key and collapses repeats: a key asked for while its task runs gets one
 * more run afterwards, however many times it was asked. Callers get a promise that settles
 * after a run that started after their request.
 */
export class KeyedQueue {
  private readonly entries = new Map<string, { again: boolean; done: Promise<void> }>();
  private idleWaiters: Array<() => void> = [];

  /**
   * `onError` is told when a task throws. Tasks handle their own errors, so a throw is a bug worth
   * a log line; the key goes on (the next request runs it again).
   */
  constructor(private readonly onError: (e: unknown) => void) {}

  get size(): number {
    return this.entries.size;
  }

  run(key: string, task: () => Promise<void>): Promise<void> {
    const existing = this.entries.get(key);
    if (existing) {
      existing.again = true;
      return existing.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          try {
            await task();
          } catch (e) {
            // A throw must not wedge the key.
            this.onError(e);
          }
        } while (entry.again);
      } finally {
        this.entries.delete(key);
        if (this.entries.size === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      }
    })();
    this.entries.set(key, entry);
    return entry.done;
  }

  /** Resolves when `key` has no work (at once when it has none). */
  settled(key: string): Promise<void> {
    return this.entries.get(key)?.done ?? Promise.resolve();
  }

  /** Resolves when no key has work. */
  idle(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
