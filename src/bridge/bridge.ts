import type { ContainerInspect } from "../docker/schema.ts";
import { errorMessage } from "../errors.ts";
import { ownedByHost } from "../services/identity.ts";
import { type TrafficDecision, type TrafficState, trafficDecision } from "../services/traffic.ts";
import type { Logger, OutOfTrafficReason, RegistryAdapter, Service, ServiceRef } from "../types.ts";
import { type DerivationInput, type DockerSource, derivationInput } from "./derivation-input.ts";
import { Entries, type WriteOp, mirrorKey, sameContent, short } from "./entries.ts";
import { type ContainerEvent, meaningOf } from "./events.ts";
import { KeyedQueue, Limiter } from "./queue.ts";

export type { DockerSource } from "./derivation-input.ts";

export interface DeriveOutput {
  services: Service[];
  ignored: Array<{ port: string; reason: string }>;
  warnings: string[];
  /** Choices worth telling the operator (e.g. which network's address was used). */
  notes?: string[];
}

export type BridgeChange =
  | { type: "registered"; service: Service }
  | { type: "deregistered"; service: ServiceRef }
  | { type: "failed"; op: WriteOp; service: ServiceRef; error: string }
  /**
   * A service's traffic state changed (outOfTraffic: why it is out now; absent: back in), whatever
   * the backend; or, with `op`, a write that carries it to the registry (the Docker health mirror,
   * maintenance) completed.
   */
  | { type: "traffic"; service: ServiceRef; outOfTraffic?: OutOfTrafficReason; op?: "health" | "maintenance" };

export interface BridgeOptions {
  docker: DockerSource;
  registry: RegistryAdapter;
  /** `imageTag`: see DerivationInput (an image named by ID is named from its tag). */
  derive: (container: ContainerInspect, peer?: ContainerInspect, imageTag?: string | null) => DeriveOutput;
  hostname: string;
  deregister: "always" | "on-success";
  cleanup: boolean;
  log: Logger;
  /** Containers inspected at once, and registry writes in flight at once. */
  concurrency?: number;
  /** Retry delays for failed registry writes (ms): doubles from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  onChange?: (change: BridgeChange) => void;
  /** Observes every registry write: backend operation, outcome and duration. */
  observe?: (op: string, ok: boolean, seconds: number) => void;
  /** -deregister-on-stop (default true): a stop signal takes the container out of traffic at once. */
  deregisterOnStop?: boolean;
  /** How long a container that got a stop signal and still runs stays out of traffic (default 30 s). */
  stopGraceMs?: number;
  /**
   * Called every SYNC_COLLECT_EVERY containers of a full sync: the runtime may collect the
   * garbage their inspects left, so that what the sync keeps is packed with less of it between.
   */
  collect?: () => void;
  /**
   * How long after a `die` (already applied from the event) its confirming inspect waits (default
   * CONFIRM_DIE_AFTER_MS; 0: at once).
   */
  confirmDieAfterMs?: number;
}

/**
 * An inspect sent right after `die` waits while the engine tears the container down (47–72 ms
 * here), and 30 of them while 30 containers exit at once add to the engine's load just when every
 * other container's `die` is due: bench/latency.ts, burst of 30 exits, die → gone p50 13.9, 7.7 and
 * 13.7 ms with the inspect at once, 8.1, 2.7 and 5.6 ms with it half a second later, side by side.
 * The event already decided; the inspect only confirms, and a `start` in between has its own.
 */
const CONFIRM_DIE_AFTER_MS = 500;

/** Containers a full sync has in flight (the inspect limiter runs `concurrency` of them at once). */
const SYNC_WINDOW = 32;
const SYNC_COLLECT_EVERY = 250;

/** The State of a running container without HEALTHCHECK, not paused; replaced, never changed in place. */
const PLAIN_RUNNING: TrafficState = Object.freeze({ Running: true, Paused: false, Health: undefined });

/** What the bridge knows of one container. */
interface Tracked {
  name: string;
  /** Derived from the last inspect while it ran: every port's service. */
  services: Service[];
  /** False once it exited and -deregister on-success keeps its services. */
  running: boolean;
  /** Docker's State as last known: from the inspect, updated at once by pause/unpause/health_status. */
  state: TrafficState;
  /** A stop signal was sent and it has not died yet (-deregister-on-stop). */
  stopping: boolean;
}

export interface ServiceStatus {
  service: Service;
  containerId: string;
  registered: boolean;
  lastError?: string;
  /** Present when the service is not taking traffic (see OutOfTrafficReason). */
  outOfTraffic?: OutOfTrafficReason;
}

/**
 * The reconcile loop, per container. Events that take a container out of traffic (`die` with its
 * exit code, `destroy`) act at once from the event; every event then has the container inspected
 * (serialized per container, level-triggered: the last inspect wins, so a fast die→start ends
 * registered). An inspect that an event overtook is discarded: the queued run after it decides.
 * Each change re-applies that container only: its wanted services against what it wrote.
 * Failed writes stay pending and are retried with backoff, so an outage loses nothing.
 */
export class Bridge {
  private readonly containers = new Map<string, Tracked>();
  private readonly entries: Entries;
  /** Inspections, per container. */
  private readonly queue = new KeyedQueue();
  /** Registry writes, per container. */
  private readonly applying = new KeyedQueue();
  private readonly writes: Limiter;
  private readonly inspects: Limiter;
  /** Per container, the number of the last event applied straight from the event. */
  private readonly overtaken = new Map<string, number>();
  private eventSeq = 0;
  private readonly retrying = new Set<string>();
  private readonly stopTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Confirmations of a `die` waiting for their time (later()), with what settles their caller. */
  private readonly confirmTimers = new Map<ReturnType<typeof setTimeout>, () => void>();
  /**
   * Per service ID, why it was last out of traffic, to log each change once. Services in traffic
   * have no entry (the usual case, so it costs nothing per service).
   */
  private readonly reasons = new Map<string, OutOfTrafficReason>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay: number;
  private closed = false;
  private draining = false;
  private listError = "";

  constructor(private readonly o: BridgeOptions) {
    this.writes = new Limiter(o.concurrency ?? 8);
    this.inspects = new Limiter(o.concurrency ?? 8);
    this.retryDelay = o.retryMinMs ?? 500;
    const { registry, log, onChange, observe } = o;
    this.entries = new Entries({ registry, log, onChange, observe, reasonOf: (id) => this.reasons.get(id) });
  }

  /** Mark a container dirty: it will be inspected and reconciled, in order with its other events. */
  sync(containerId: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.queue.run(containerId, () => this.inspects.run(() => this.syncOnce(containerId)));
  }

  /**
   * A Docker event about a container. Those that change whether it can take traffic (`die` with
   * its exit code, `destroy`, a stop signal's `kill`, `pause`, `unpause`, `health_status`) take
   * effect at once; then the container is inspected to confirm. Resolves when that inspect was applied.
   */
  event(ev: ContainerEvent): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = ev.id;
    const m = meaningOf(ev);
    if (m.kind === "died") {
      this.died(id, m.code);
      const delay = this.o.confirmDieAfterMs ?? CONFIRM_DIE_AFTER_MS;
      if (delay > 0) return this.later(id, delay);
    } else if (m.kind === "gone") {
      this.overtake(id);
      this.endStop(id);
      if (this.containers.delete(id)) void this.apply(id);
    } else if (m.kind === "stop-signal") {
      if (this.o.deregisterOnStop ?? true) this.stopSignal(id, m.signal);
    } else if (m.kind === "paused") {
      this.changed(id, (t) => {
        t.state = { ...t.state, Paused: m.paused };
        if (!m.paused) this.endStop(id);
      });
    } else if (m.kind === "health") {
      // The event carries no probe output: the confirming inspect brings it.
      this.changed(id, (t) => {
        t.state = { ...t.state, Health: { Status: m.status, Log: [] } };
        if (m.status === "healthy") this.endStop(id);
      });
    } else if (m.kind === "started") {
      this.endStop(id);
    }
    return this.sync(id);
  }

  /** sync(id) after `ms`; resolves when that sync does (at once if the bridge closes meanwhile). */
  private later(id: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.confirmTimers.delete(timer);
        void this.sync(id).then(resolve);
      }, ms);
      (timer as { unref?: () => void }).unref?.();
      this.confirmTimers.set(timer, resolve);
    });
  }

  /** A change known from the event itself, for a container we hold while it runs. */
  private changed(id: string, change: (t: Tracked) => void): void {
    const t = this.containers.get(id);
    if (!t?.running) return;
    this.overtake(id);
    change(t);
    void this.apply(id);
  }

  /** SIGTERM & co. to a running container: out of traffic until it dies, or until the grace period ends. */
  private stopSignal(id: string, signal: string): void {
    const t = this.containers.get(id);
    if (!t?.running || t.stopping) return;
    const grace = this.o.stopGraceMs ?? 30_000;
    this.o.log.info(`stopping: ${short(id)} got signal ${signal}; its services leave traffic until it exits (back after ${Math.round(grace / 1000)} s if it keeps running)`);
    this.changed(id, (c) => (c.stopping = true));
    const timer = setTimeout(() => {
      this.stopTimers.delete(id);
      const now = this.containers.get(id);
      if (!now?.stopping) return;
      this.o.log.info(`back: ${short(id)} still runs ${Math.round(grace / 1000)} s after signal ${signal}; its services take traffic again`);
      this.changed(id, (c) => (c.stopping = false));
      void this.sync(id);
    }, grace);
    (timer as { unref?: () => void }).unref?.();
    this.stopTimers.set(id, timer);
  }

  /** The container is back (start, unpause, healthy) or gone: no pending stop any more. */
  private endStop(id: string): void {
    const timer = this.stopTimers.get(id);
    if (timer) clearTimeout(timer);
    this.stopTimers.delete(id);
    const t = this.containers.get(id);
    if (t?.stopping) {
      t.stopping = false;
      if (t.running) void this.apply(id);
    }
  }

  /** An event applied before the inspect: inspects already under way are stale. */
  private overtake(id: string): void {
    this.overtaken.set(id, ++this.eventSeq);
  }

  private died(id: string, code: number): void {
    this.overtake(id);
    const t = this.containers.get(id);
    const stopped = t?.stopping ?? false;
    const timer = this.stopTimers.get(id);
    if (timer) clearTimeout(timer);
    this.stopTimers.delete(id);
    if (!t?.running) return;
    if (!stopped && this.keepAfterExit(code)) {
      t.running = false;
      this.o.log.info(`kept: ${short(id)} exited with code ${code}; -deregister on-success keeps its services`);
    } else {
      this.containers.delete(id);
    }
    void this.apply(id);
  }

  /** Full resync with Docker: every running container and every container we hold. */
  async syncAll(): Promise<void> {
    const running = await this.o.docker.list();
    const ids = new Set([...running.map((c) => c.Id), ...this.containers.keys()]);
    // A window of syncs in flight, not one per container up front: at 10,000 containers, 10,000
    // pending syncs alive until the last inspect interleave their garbage with what the sync keeps,
    // and the heap cannot give those blocks back (bench/scale.ts at 10,000: RSS per service
    // 4.3 → 3.3 KiB; 2.8 with `collect`).
    const next = ids.values();
    let done = 0;
    const worker = async () => {
      for (const id of next) {
        await this.sync(id);
        if (++done % SYNC_COLLECT_EVERY === 0) this.o.collect?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(ids.size, SYNC_WINDOW) }, worker));
  }

  private async syncOnce(id: string): Promise<void> {
    const before = this.overtaken.get(id);
    let c: ContainerInspect | null;
    let input: DerivationInput | undefined;
    try {
      c = await this.o.docker.inspect(id);
      if (c?.State.Running) input = await derivationInput(this.o.docker, c);
    } catch (e) {
      // Docker is away; the reconnect's full resync will come back to this container.
      this.o.log.warn(`Cannot inspect container ${short(id)}: ${errorMessage(e)}`);
      return;
    }
    // An event acted while this inspect was under way; it also queued the run that decides.
    if (this.overtaken.get(id) !== before) return;
    this.overtaken.delete(id);
    const prev = this.containers.get(id);
    if (!c) {
      this.containers.delete(id);
    } else if (input) {
      this.deriveInto(id, c, input, prev?.running === true && prev.stopping);
    } else if (prev && !prev.stopping && this.keepAfterExit(c.State.ExitCode ?? 0)) {
      if (prev.running) this.o.log.info(`kept: ${short(id)} exited with code ${c.State.ExitCode}; -deregister on-success keeps its services`);
      prev.running = false;
    } else {
      this.containers.delete(id);
    }
    void this.apply(id);
  }

  private keepAfterExit(code: number): boolean {
    if (this.o.deregister !== "on-success") return false;
    return code !== 0 && (code & 128) === 0;
  }

  private deriveInto(id: string, inspected: ContainerInspect, input: DerivationInput, stopping: boolean): void {
    const name = inspected.Name.replace(/^\//, "");
    let out: DeriveOutput;
    try {
      out = this.o.derive(input.container, input.peer, input.imageTag);
    } catch (e) {
      this.o.log.warn(`Skipping container "${name}" (${short(id)}): ${errorMessage(e)}`);
      this.containers.delete(id);
      return;
    }
    for (const w of out.warnings) this.o.log.warn(w, { container: name });
    for (const n of out.notes ?? []) this.o.log.info(n);
    for (const ig of out.ignored) this.o.log.info(`ignored: ${short(id)} port ${ig.port}: ${ig.reason}`, { container: name });
    // One copy of the container's ID and name for it and all its services (the inspect's are equal copies).
    for (const s of out.services) {
      if (s.origin.containerId === id) s.origin.containerId = id;
      if (s.origin.containerName === name) s.origin.containerName = name;
    }
    // Only the part of State that decides traffic: the rest of Docker's object is not held, and
    // the usual one (running, not paused, no HEALTHCHECK) is one object shared by all.
    const { Running, Paused, Health } = inspected.State;
    const state = Running === true && Paused === false && Health == null ? PLAIN_RUNNING : { Running, Paused, Health };
    this.containers.set(id, { name, services: out.services, running: true, state, stopping });
  }

  /** The services a container wants in the registry now. */
  private wanted(id: string): Service[] {
    if (this.draining) return [];
    return this.containers.get(id)?.services ?? [];
  }

  /** Whether a service of this container takes traffic now (services/traffic.ts decides). */
  private decide(t: Tracked, s: Service): TrafficDecision {
    return trafficDecision({
      state: t.state,
      stopping: t.stopping && (this.o.deregisterOnStop ?? true),
      health: s.health,
      mirrorsHealth: this.o.registry.mirrorsHealth,
    });
  }

  /** The writes that bring one service to its decision, or undefined when it is there already. */
  private plan(id: string, s: Service, d: TrafficDecision): (() => Promise<boolean>) | undefined {
    const e = this.entries.get(s.id);
    const mine = e !== undefined && e.owner === id;
    if (d.register) {
      const want: Service = d.mirror ? { ...s, mirror: d.mirror } : s;
      const fresh = mine && e.written && e.stale.length === 0 && e.mirrored === (d.mirror !== undefined) && sameContent(e.service, s);
      const healthDue = fresh && d.mirror !== undefined && e.mirror !== mirrorKey(d.mirror);
      const lift = mine && e.maint;
      if (fresh && !healthDue && !lift) return undefined;
      return async () => {
        if (!fresh) {
          if (!(await this.entries.register(want, id))) return false;
        } else if (healthDue && !(await this.entries.setHealth(this.entries.get(s.id)!, want))) {
          return false;
        }
        const now = this.entries.get(s.id);
        if (now?.maint && !(await this.entries.setMaintenance(now, false, ""))) return false;
        return true;
      };
    }
    // Stop-drain where the backend has it: the registered entry stays, in maintenance, until die.
    if (d.reason === "stopping" && this.o.registry.maintenance && mine && e.written) {
      if (e.maint) return undefined;
      return () => this.entries.setMaintenance(e, true, "Container is stopping (registrator -deregister-on-stop)");
    }
    if (mine) return () => this.entries.deregister(e);
    return undefined;
  }

  /** One log line each time a service leaves traffic or comes back, with the reason. */
  private noteTraffic(id: string, s: Service, d: TrafficDecision): void {
    const reason = d.reason ?? "";
    const before = this.reasons.get(s.id);
    if (before === reason) return;
    if (reason) this.reasons.set(s.id, reason);
    else this.reasons.delete(s.id);
    // A new service in traffic is announced by its registration; anything else is a change.
    if (before !== undefined || reason) this.o.onChange?.({ type: "traffic", service: s, ...(reason ? { outOfTraffic: reason } : {}) });
    if (reason) {
      const how = d.register ? (d.mirror ? "registered with a critical Docker health check" : "registered") : "not registered";
      this.o.log.info(`out of traffic: ${short(id)} ${s.id}: ${reason} (${how})`);
    } else if (before) {
      this.o.log.info(`in traffic: ${short(id)} ${s.id}`);
    }
  }

  /** Write one container's difference; serialized per container, bounded across them. */
  private apply(id: string): Promise<void> {
    return this.applying.run(id, () => this.applyOnce(id));
  }

  private async applyOnce(id: string): Promise<void> {
    const t = this.draining ? undefined : this.containers.get(id);
    const ops: Array<Promise<boolean>> = [];
    const wantIds = new Set<string>();
    for (const s of t?.services ?? []) {
      wantIds.add(s.id);
      const d = this.decide(t!, s);
      this.noteTraffic(id, s, d);
      const write = this.plan(id, s, d);
      if (write) ops.push(this.writes.run(write));
    }
    const left = this.entries.leftOver(id, wantIds);
    for (const sid of left.ids) this.reasons.delete(sid);
    for (const e of left.entries) ops.push(this.writes.run(() => this.entries.deregister(e)));
    if (ops.length === 0) return;
    const results = await Promise.all(ops);
    if (results.every(Boolean)) {
      if (this.retrying.size === 0) this.retryDelay = this.o.retryMinMs ?? 500;
    } else {
      this.retrying.add(id);
      this.scheduleRetry();
    }
  }

  /** Resolves when every container's writes asked for so far are done (or failed, to be retried). */
  flush(): Promise<void> {
    return this.applying.idle();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.o.retryMaxMs ?? 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const ids = [...this.retrying];
      this.retrying.clear();
      for (const id of ids) void this.apply(id);
    }, delay);
  }

  /**
   * Keep the Docker health mirror checks from expiring: set each again (well within their TTL).
   * A service the registry lost is registered again.
   */
  async refreshHealth(): Promise<void> {
    if (!this.o.registry.setHealth) return;
    const due = [...this.entries.values()].filter((e) => e.mirrored && e.written && e.writing === 0 && e.service.mirror);
    const owners = new Set<string>();
    await Promise.all(
      due.map((e) =>
        this.writes.run(async () => {
          if (!(await this.entries.setHealth(e, e.service))) owners.add(e.owner);
        }),
      ),
    );
    for (const id of owners) {
      this.retrying.add(id);
      this.scheduleRetry();
    }
  }

  /**
   * Compare the registry with what we hold and write only the difference: entries that are
   * missing or differ get registered again; with -cleanup, this host's entries that no
   * container wants are removed. A listing only speaks for entries whose last write completed
   * before it was requested; entries are never forgotten because of it. Backends that cannot
   * list are left as they are.
   */
  async reconcileRegistry(opts: { cleanup?: boolean } = {}): Promise<void> {
    const { registry } = this.o;
    if (!registry.list) return;
    const requestedAt = this.entries.stamp();
    let listed;
    try {
      listed = await this.entries.timed("list", () => registry.list!());
    } catch (e) {
      // Once per distinct problem, not every interval.
      if (errorMessage(e) !== this.listError) this.o.log.warn(`Cannot read ${registry.backend} to compare: ${errorMessage(e)}`);
      this.listError = errorMessage(e);
      return;
    }
    this.listError = "";
    const byId = new Map(listed.map((l) => [l.id, l]));
    const redo = new Set<string>();
    let n = 0;
    for (const e of this.entries.values()) {
      if (++n % 2000 === 0) await new Promise((r) => setTimeout(r, 0)); // a big host does not block the loop
      if (e.writing > 0 || e.doneAt > requestedAt || !e.written) continue;
      const entry = byId.get(e.service.id);
      const fp = registry.fingerprint ? registry.fingerprint(e.service) : undefined;
      if (!entry || (fp !== undefined && entry.fingerprint !== fp)) {
        e.written = false;
        redo.add(e.owner);
      }
    }
    let stale: typeof listed = [];
    if (opts.cleanup ?? this.o.cleanup) {
      const wanted = new Set([...this.containers.keys()].flatMap((id) => this.wanted(id).map((s) => s.id)));
      stale = listed.filter((l) => !this.entries.has(l.id) && !wanted.has(l.id) && ownedByHost(l.id, this.o.hostname));
    }
    await Promise.all([
      ...stale.map((ref) =>
        this.writes.run(async () => {
          try {
            await this.entries.timed("deregister", () => registry.deregister(ref));
            this.o.log.info(`removed: ${ref.id} (cleanup: no container)`);
            this.o.onChange?.({ type: "deregistered", service: ref });
          } catch (e) {
            this.o.log.warn(`Cannot clean up "${ref.id}" in ${registry.backend}: ${errorMessage(e)}`);
          }
        }),
      ),
      ...[...redo].map((id) => this.apply(id)),
    ]);
  }

  /** TTL heartbeat: hand every registered service to the backend's refresh. */
  async refreshTtl(): Promise<void> {
    const services = this.registered();
    try {
      await this.entries.timed("refresh", () => this.o.registry.refresh(services));
    } catch (e) {
      this.o.log.warn(`Cannot refresh TTLs in ${this.o.registry.backend}: ${errorMessage(e)}`);
    }
  }

  /** This host's services, whether each is registered, why it is out of traffic, and the last error. */
  status(): ServiceStatus[] {
    const out: ServiceStatus[] = [];
    for (const [containerId, t] of this.containers) {
      for (const s of t.services) {
        const e = this.entries.get(s.id);
        const d = this.decide(t, s);
        const lastError = this.entries.lastError(s.id);
        const registered = e?.owner === containerId && e.written && sameContent(e.service, s);
        const service = d.register && d.mirror ? { ...s, mirror: d.mirror } : s;
        out.push({ service, containerId, registered, ...(d.reason ? { outOfTraffic: d.reason } : {}), ...(lastError ? { lastError } : {}) });
      }
    }
    return out;
  }

  /** Services whose last write to the registry completed. */
  registered(): Service[] {
    const out: Service[] = [];
    for (const e of this.entries.values()) if (e.written) out.push(e.service);
    return out;
  }

  pendingWrites(): number {
    return this.queue.size + this.applying.size;
  }

  /**
   * Stop: wait (bounded) for in-flight work; with deregisterAll, remove every service of this
   * host first. Never throws.
   */
  async close(opts: { deregisterAll: boolean; timeoutMs: number }): Promise<void> {
    const deadline = new Promise<void>((r) => setTimeout(r, opts.timeoutMs).unref?.());
    this.closed = true;
    for (const t of this.stopTimers.values()) clearTimeout(t);
    this.stopTimers.clear();
    for (const [t, settle] of this.confirmTimers) {
      clearTimeout(t);
      settle();
    }
    this.confirmTimers.clear();
    await Promise.race([this.queue.idle(), deadline]);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (opts.deregisterAll) {
      this.draining = true;
      const owners = new Set([...this.entries.values()].map((e) => e.owner));
      await Promise.race([Promise.all([...owners].map((id) => this.apply(id))).catch(() => {}), deadline]);
    } else {
      await Promise.race([this.applying.idle(), deadline]);
    }
  }
}
