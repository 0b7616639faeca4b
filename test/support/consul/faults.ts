// Fault injection: make matching requests slow or fail, for a while or a number of times.

export interface FaultOptions {
  /** Answer with this status instead of handling the request (e.g. 500, 503, 429). */
  status?: number;
  /** Body of the injected answer; defaults to the text a leaderless Consul server gives. */
  body?: string;
  /** Wait this long before answering (or before handling, when no status is given). */
  delayMs?: number;
  /** Only requests whose path matches; default all. */
  paths?: RegExp;
  /** Only these methods; default all. */
  methods?: string[];
  /** The fault ends this many ms after fail() was called. */
  untilMs?: number;
  /** The fault ends after this many matching requests. */
  times?: number;
}

export const DEFAULT_FAULT_BODY = "rpc error making call: No cluster leader";

export class Faults {
  private current: (FaultOptions & { deadline?: number; left?: number }) | null = null;

  set(opts: FaultOptions | null): void {
    this.current = opts && {
      ...opts,
      ...(opts.untilMs !== undefined ? { deadline: Date.now() + opts.untilMs } : {}),
      ...(opts.times !== undefined ? { left: opts.times } : {}),
    };
  }

  /** The fault for this request, if any (consumes one of `times`). */
  match(method: string, path: string): FaultOptions | undefined {
    const f = this.current;
    if (!f) return undefined;
    if (f.deadline !== undefined && Date.now() >= f.deadline) {
      this.current = null;
      return undefined;
    }
    if (f.paths) {
      f.paths.lastIndex = 0;
      if (!f.paths.test(path)) return undefined;
    }
    if (f.methods && !f.methods.includes(method)) return undefined;
    if (f.left !== undefined) {
      if (f.left <= 0) return undefined;
      f.left--;
      if (f.left === 0) this.current = null;
    }
    return f;
  }
}
