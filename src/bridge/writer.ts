import { RegistryError, errorMessage } from "../errors.ts";
import { Backoff } from "../retry.ts";
import { ownedByHost } from "../services/identity.ts";
import type { Logger, OutOfTrafficReason, RegistryAdapter, Service, ServiceRef } from "../types.ts";
import { type Entry, EntryTable, NO_REFS, mirrorKey, sameContent, short } from "./entries.ts";
import type { BridgePolicy } from "./policy.ts";
import { KeyedQueue, Limiter } from "./queue.ts";
import type { BridgeChange, RegistryState, Wanted, WantedSource, WriteOp } from "./types.ts";

export interface WriterOptions {
  registry: RegistryAdapter;
  /** How logs, metrics and the status page name this registry. */
  name: string;
  /** Whether log lines and changes name the registry (registrator writes to several). */
  named: boolean;
  /** Where the writer asks what a container wants. */
  source: WantedSource;
  hostname: string;
  /** -cleanup: a reconcile removes this host's entries no container wants. */
  cleanup: boolean;
  log: Logger;
  policy: BridgePolicy;
  onChange?: (change: BridgeChange) => void;
  /** Observes every registry request: backend operation, outcome, duration and the registry's name. */
  observe?: (op: string, ok: boolean, seconds: number, registry: string) => void;
  /** Registry requests wait for it (BridgeOptions.ready). */
  ready?: Promise<void>;
}

/**
 * The write side of one registry: its entries (what this host may have there, and which container
 * owns each), the writes that bring them to what the containers want, their retries with backoff,
 * its own limit of writes in flight, the last error per service, and the comparisons with its
 * listing. Nothing here waits on another registry, and nothing outside reads its entries.
 */
export class Writer {
  readonly name: string;
  readonly registry: RegistryAdapter;
  private readonly entries = new EntryTable();
  private readonly errors = new Map<string, string>();
  /** Writes, per container. */
  private readonly applying: KeyedQueue;
  private readonly writes: Limiter;
  private readonly retrying = new Set<string>();
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private draining = false;
  private listError = "";
  /** Until the registry may be asked (WriterOptions.ready); then undefined, so requests do not wait a turn. */
  private ready: Promise<void> | undefined;

  constructor(private readonly o: WriterOptions) {
    this.name = o.name;
    this.registry = o.registry;
    this.ready = o.ready;
    this.writes = new Limiter(o.policy.writeConcurrency);
    this.backoff = new Backoff({ minMs: o.policy.retryMinMs, maxMs: o.policy.retryMaxMs });
    this.applying = new KeyedQueue((e) => o.log.error(`Writing to ${o.name} failed unexpectedly: ${errorMessage(e)}`));
  }

  get mirrorsHealth(): boolean {
    return this.registry.mirrorsHealth === true;
  }

  /** Containers with writes queued or in flight. */
  get pending(): number {
    return this.applying.size;
  }

  /**
   * Container `id` may want something else now: write the difference, serialized per container,
   * bounded across them. Resolves when done or failed (then retried with backoff); never rejects.
   */
  changed(id: string): Promise<void> {
    return this.applying.run(id, () => this.applyOnce(id));
  }

  /** Resolves when every container's writes asked for so far are done (or failed, to be retried). */
  flush(): Promise<void> {
    return this.applying.idle();
  }

  private async applyOnce(id: string): Promise<void> {
    const wanted = this.draining ? [] : this.o.source.wanted(id, this.mirrorsHealth);
    const ops: Array<Promise<boolean>> = [];
    const keep = new Set<string>();
    for (const w of wanted) {
      keep.add(w.service.id);
      const write = this.plan(id, w);
      if (write) ops.push(this.writes.run(write));
    }
    for (const e of this.entries.leftOver(id, keep)) ops.push(this.writes.run(() => this.deregister(e)));
    if (ops.length === 0) return;
    const results = await Promise.all(ops);
    if (results.every(Boolean)) {
      if (this.retrying.size === 0) this.backoff.reset();
    } else {
      this.retry(id);
    }
  }

  /** The writes that bring one service to its decision, or undefined when it is there already. */
  private plan(owner: string, { service: s, decision: d }: Wanted): (() => Promise<boolean>) | undefined {
    const e = this.entries.get(s.id);
    const mine = e !== undefined && e.owner === owner;
    if (d.register) {
      const want: Service = d.mirror ? { ...s, mirror: d.mirror } : s;
      const fresh = mine && e.written && e.stale.length === 0 && e.mirrored === (d.mirror !== undefined) && sameContent(e.service, s);
      const healthDue = fresh && d.mirror !== undefined && e.mirrorState !== mirrorKey(d.mirror);
      const lift = mine && e.inMaintenance;
      if (fresh && !healthDue && !lift) return undefined;
      return async () => {
        if (!fresh) {
          if (!(await this.register(want, owner))) return false;
        } else if (healthDue && !(await this.setHealth(this.entries.get(s.id)!, want, d.reason))) {
          return false;
        }
        const now = this.entries.get(s.id);
        if (now?.inMaintenance && !(await this.setMaintenance(now, false, "", d.reason))) return false;
        return true;
      };
    }
    // Stop-drain where the backend has it: the registered entry stays, in maintenance, until die.
    if (d.reason === "stopping" && this.registry.maintenance && mine && e.written) {
      if (e.inMaintenance) return undefined;
      return () => this.setMaintenance(e, true, "Container is stopping (registrator -deregister-on-stop)", d.reason);
    }
    if (mine) return () => this.deregister(e);
    return undefined;
  }

  private retry(owner: string): void {
    this.retrying.add(owner);
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const owners = [...this.retrying];
      this.retrying.clear();
      for (const id of owners) void this.changed(id);
    }, this.backoff.next());
  }

  /** The registry's request `op`, timed and observed. */
  private async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.ready) {
      await this.ready;
      this.ready = undefined;
    }
    const t0 = performance.now();
    try {
      const r = await fn();
      this.o.observe?.(op, true, (performance.now() - t0) / 1000, this.name);
      return r;
    } catch (e) {
      this.o.observe?.(op, false, (performance.now() - t0) / 1000, this.name);
      throw e;
    }
  }

  private async register(service: Service, owner: string): Promise<boolean> {
    const e = this.entries.claim(service, owner);
    try {
      while (e.stale.length > 0) {
        const old = e.stale[0]!;
        await this.timed("deregister", () => this.registry.deregister(old));
        e.stale = e.stale.slice(1);
      }
      await this.timed("register", () => this.registry.register(service));
      if (e.service === service) {
        e.written = true;
        e.mirrored = service.mirror !== undefined;
        e.mirrorState = mirrorKey(service.mirror);
      }
      this.errors.delete(service.id);
      this.o.log.info(`added: ${short(service.origin.containerId)} ${service.id}`, this.fields({ name: service.name, ip: service.ip, port: service.port }));
      this.announce({ type: "registered", service });
      return true;
    } catch (err) {
      return this.failed("register", service, err);
    } finally {
      this.entries.completed(e);
    }
  }

  /** The mirror check of a registered service to `service.mirror`; a registry that lost the service gets it again. */
  private async setHealth(e: Entry, service: Service, reason: OutOfTrafficReason | undefined): Promise<boolean> {
    e.writing++;
    try {
      await this.timed("health", () => this.registry.setHealth!(service));
      e.service = service;
      // The periodic refresh (refreshHealth) sets the same status again: no news for anyone.
      const changed = e.mirrorState !== mirrorKey(service.mirror);
      e.mirrorState = mirrorKey(service.mirror);
      this.errors.delete(service.id);
      this.o.log.info(`health: ${short(service.origin.containerId)} ${service.id} ${service.mirror?.status}`, this.fields({ output: service.mirror?.output }));
      if (changed) this.announce({ type: "traffic", service, op: "health", ...(reason ? { outOfTraffic: reason } : {}) });
      return true;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) {
        e.written = false;
        return this.register(service, e.owner);
      }
      return this.failed("health", service, err);
    } finally {
      this.entries.completed(e);
    }
  }

  private async setMaintenance(e: Entry, enable: boolean, why: string, reason: OutOfTrafficReason | undefined): Promise<boolean> {
    const service = e.service;
    e.writing++;
    try {
      await this.timed("maintenance", () => this.registry.maintenance!(service, enable, why));
      e.inMaintenance = enable;
      this.errors.delete(service.id);
      this.o.log.info(`${enable ? "maintenance on" : "maintenance off"}: ${short(service.origin.containerId)} ${service.id}`, this.fields());
      this.announce({ type: "traffic", service, op: "maintenance", ...(reason ? { outOfTraffic: reason } : {}) });
      return true;
    } catch (err) {
      return this.failed("maintenance", service, err);
    } finally {
      this.entries.completed(e);
    }
  }

  private async deregister(e: Entry): Promise<boolean> {
    const service = e.service;
    e.writing++;
    e.written = false;
    try {
      // Read afresh each turn: a write claimed meanwhile may have added to it.
      for (let i = 0; i < e.stale.length; i++) {
        const old = e.stale[i]!;
        await this.timed("deregister", () => this.registry.deregister(old));
      }
      e.stale = NO_REFS;
      await this.timed("deregister", () => this.registry.deregister(service));
      this.entries.forget(e, service);
      this.errors.delete(service.id);
      this.o.log.info(`removed: ${short(service.origin.containerId)} ${service.id}`, this.fields());
      this.announce({ type: "deregistered", service });
      return true;
    } catch (err) {
      return this.failed("deregister", service, err);
    } finally {
      this.entries.completed(e);
    }
  }

  private failed(op: WriteOp, service: ServiceRef, e: unknown): false {
    const msg = errorMessage(e);
    if (this.errors.get(service.id) !== msg) {
      // Adapters usually say what failed already ("Cannot register "x" in etcd: …").
      const verb = op === "health" ? "set the Docker health check of" : op === "maintenance" ? "change the maintenance of" : op;
      const what = msg.includes(service.id) ? msg : `Cannot ${verb} "${service.id}" in ${this.name}: ${msg}`;
      this.o.log.warn(`${what}; will retry`, this.fields());
    }
    this.errors.set(service.id, msg);
    this.announce({ type: "failed", op, service, error: msg });
    return false;
  }

  /** Log fields of a write: the registry's name when there are several. */
  private fields(extra?: Record<string, unknown>): Record<string, unknown> | undefined {
    return this.o.named ? { ...extra, registry: this.name } : extra;
  }

  private announce(change: BridgeChange): void {
    this.o.onChange?.(this.o.named ? { ...change, registry: this.name } : change);
  }

  /**
   * Keep the Docker health mirror checks from expiring: set each again (well within their TTL).
   * A service the registry lost is registered again.
   */
  async refreshHealth(): Promise<void> {
    if (!this.registry.setHealth) return;
    const due = [...this.entries.values()].filter((e) => e.mirrored && e.written && e.writing === 0 && e.service.mirror);
    const failed = new Set<string>();
    await Promise.all(
      due.map((e) =>
        this.writes.run(async () => {
          if (!(await this.setHealth(e, e.service, undefined))) failed.add(e.owner);
        }),
      ),
    );
    for (const id of failed) this.retry(id);
  }

  /**
   * Compare the registry with what we hold and write only the difference: entries that are
   * missing or differ get registered again; with -cleanup, this host's entries that no
   * container wants are removed. A listing only speaks for entries whose last write completed
   * before it was requested; entries are never forgotten because of it. Backends that cannot
   * list are left as they are.
   */
  async reconcile(opts: { cleanup?: boolean } = {}): Promise<void> {
    const { registry } = this;
    if (!registry.list) return;
    const requestedAt = this.entries.stamp();
    let listed;
    try {
      listed = await this.timed("list", () => registry.list!());
    } catch (e) {
      // Once per distinct problem, not every interval.
      if (errorMessage(e) !== this.listError) this.o.log.warn(`Cannot read ${this.name} to compare: ${errorMessage(e)}`);
      this.listError = errorMessage(e);
      return;
    }
    this.listError = "";
    const byId = new Map(listed.map((l) => [l.id, l]));
    const redo = new Set<string>();
    let n = 0;
    for (const e of this.entries.values()) {
      if (++n % this.o.policy.listYieldEvery === 0) await new Promise((r) => setTimeout(r, 0));
      if (e.writing > 0 || e.completedAt > requestedAt || !e.written) continue;
      const entry = byId.get(e.service.id);
      const fp = registry.fingerprint ? registry.fingerprint(e.service) : undefined;
      if (!entry || (fp !== undefined && entry.fingerprint !== fp)) {
        e.written = false;
        redo.add(e.owner);
      }
    }
    let stale: typeof listed = [];
    if (opts.cleanup ?? this.o.cleanup) {
      const wanted = this.o.source.wantedIds();
      stale = listed.filter((l) => !this.entries.has(l.id) && !wanted.has(l.id) && ownedByHost(l.id, this.o.hostname));
    }
    await Promise.all([
      ...stale.map((ref) =>
        this.writes.run(async () => {
          try {
            await this.timed("deregister", () => registry.deregister(ref));
            this.o.log.info(`removed: ${ref.id} (cleanup: no container)`, this.fields());
            this.announce({ type: "deregistered", service: ref });
          } catch (e) {
            this.o.log.warn(`Cannot clean up "${ref.id}" in ${this.name}: ${errorMessage(e)}`, this.fields());
          }
        }),
      ),
      ...[...redo].map((id) => this.changed(id)),
    ]);
  }

  /** TTL heartbeat: hand every registered service to the backend's refresh. */
  async refreshTtl(): Promise<void> {
    const services = this.registered();
    try {
      await this.timed("refresh", () => this.registry.refresh(services));
    } catch (e) {
      this.o.log.warn(`Cannot refresh TTLs in ${this.name}: ${errorMessage(e)}`, this.fields());
    }
  }

  /** Whether `service` of container `owner` is registered here as it is now, and its last error. */
  stateOf(owner: string, service: Service): RegistryState {
    const e = this.entries.get(service.id);
    const lastError = this.errors.get(service.id);
    const registered = e !== undefined && e.owner === owner && e.written && sameContent(e.service, service);
    return { registry: this.name, registered, ...(lastError ? { lastError } : {}) };
  }

  /** Services whose last write here completed. */
  registered(): Service[] {
    const out: Service[] = [];
    for (const e of this.entries.values()) if (e.written) out.push(e.service);
    return out;
  }

  /** Whether the last write of this service ID here completed. */
  holds(serviceId: string): boolean {
    return this.entries.get(serviceId)?.written === true;
  }

  /**
   * Stop: no more retries. Once `settled` (the bridge's inspects) resolves, wait for the writes in
   * flight, or with deregisterAll remove every service this host has here first; bounded by
   * `deadline`. Never throws.
   */
  async close(opts: { deregisterAll: boolean; settled: Promise<void>; deadline: Promise<void> }): Promise<void> {
    this.closed = true;
    await Promise.race([opts.settled, opts.deadline]);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (opts.deregisterAll) {
      this.draining = true;
      const owners = new Set([...this.entries.values()].map((e) => e.owner));
      await Promise.race([Promise.all([...owners].map((id) => this.changed(id))), opts.deadline]);
    } else {
      await Promise.race([this.applying.idle(), opts.deadline]);
    }
  }
}
