import type { ContainerInspect } from "../docker/schema.ts";
import { errorMessage } from "../errors.ts";
import { type TrafficDecision, type TrafficState, trafficDecision } from "../services/traffic.ts";
import type { Logger, OutOfTrafficReason, RegistryAdapter, Service } from "../types.ts";
import { compactState, shareIdentity } from "./compact.ts";
import { type DerivationInput, type DockerSource, derivationInput } from "./derivation-input.ts";
import { short } from "./entries.ts";
import { type ContainerEvent, meaningOf } from "./events.ts";
import { BRIDGE_POLICY, type BridgePolicy } from "./policy.ts";
import { KeyedQueue, Limiter } from "./queue.ts";
import type { BridgeChange, DeriveOutput, NamedRegistry, ServiceStatus, Wanted, WantedSource } from "./types.ts";
import { Writer } from "./writer.ts";

export type { DockerSource } from "./derivation-input.ts";
export type { BridgeChange, DeriveOutput, NamedRegistry, ServiceStatus, WriteOp } from "./types.ts";
export type { Writer } from "./writer.ts";

export interface BridgeOptions extends Partial<BridgePolicy> {
  docker: DockerSource;
  /** The registries to write to, each by its own Writer; `registry` is the one-registry shorthand. */
  registries?: readonly NamedRegistry[];
  registry?: RegistryAdapter;
  /** `imageTag`: see DerivationInput (an image named by ID is named from its tag). */
  derive: (container: ContainerInspect, peer?: ContainerInspect, imageTag?: string | null) => DeriveOutput;
  hostname: string;
  deregister: "always" | "on-success";
  cleanup: boolean;
  log: Logger;
  onChange?: (change: BridgeChange) => void;
  /** Observes every registry request: backend operation, outcome, duration and the registry's name. */
  observe?: (op: string, ok: boolean, seconds: number, registry: string) => void;
  /** -deregister-on-stop (default true): a stop signal takes the container out of traffic at once. */
  deregisterOnStop?: boolean;
  /** Called every `collectEvery` containers of a full sync: the runtime may collect their inspects' garbage. */
  collect?: () => void;
  /**
   * Registry requests wait for it (the registries' startup pings), while Docker is already read:
   * the first sync does not wait for a registry's answer before it inspects. Never rejects.
   */
  ready?: Promise<void>;
}

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

/**
 * The reconcile loop, per container. Events that take a container out of traffic (`die` with its
 * exit code, `destroy`) act at once from the event; every event then has the container inspected
 * (serialized per container, level-triggered: the last inspect wins, so a fast die→start ends
 * registered). An inspect that an event overtook is discarded: the queued run after it decides.
 * Each change is handed to every registry's Writer, which writes that container's difference on
 * its own: a slow or unreachable registry holds up neither the inspects nor the other registries.
 */
export class Bridge implements WantedSource {
  /** One per registry, in the order given. */
  readonly writers: readonly Writer[];
  private readonly containers = new Map<string, Tracked>();
  private readonly policy: BridgePolicy;
  /** Inspections, per container. */
  private readonly inspections: KeyedQueue;
  private readonly inspects: Limiter;
  /** Per container, the number of the last event applied straight from the event. */
  private readonly overtaken = new Map<string, number>();
  private eventSeq = 0;
  private readonly stopTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Confirmations of a `die` waiting for their time (later()), with what settles their caller. */
  private readonly confirmTimers = new Map<ReturnType<typeof setTimeout>, { id: string; resolve: () => void }>();
  /**
   * Per container, per service ID, why it was last out of traffic, to log each change once.
   * Services in traffic have no entry (the usual case, so it costs nothing per service).
   */
  private readonly reasons = new Map<string, Map<string, OutOfTrafficReason>>();
  private closed = false;
  private draining = false;

  constructor(private readonly options: BridgeOptions) {
    const o = options;
    const policy: BridgePolicy = (this.policy = { ...BRIDGE_POLICY });
    for (const k of Object.keys(policy) as Array<keyof BridgePolicy>) if (o[k] !== undefined) policy[k] = o[k]!;
    this.inspects = new Limiter(this.policy.concurrency);
    this.inspections = new KeyedQueue((e) => o.log.error(`Inspecting a container failed unexpectedly: ${errorMessage(e)}`));
    const registries = o.registries ?? (o.registry ? [{ name: o.registry.backend, adapter: o.registry }] : []);
    if (registries.length === 0) throw new Error("Bridge: no registry to write to");
    const { hostname, cleanup, log, onChange, observe, ready } = o;
    const named = registries.length > 1;
    this.writers = registries.map(({ name, adapter }) => new Writer({ registry: adapter, name, named, source: this, hostname, cleanup, log, policy, onChange, observe, ready }));
  }

  /** Mark a container dirty: it will be inspected and reconciled, in order with its other events. */
  sync(containerId: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.inspections.run(containerId, () => this.inspects.run(() => this.syncOnce(containerId)));
  }

  /**
   * A Docker event about a container. Those that change whether it can take traffic (`die` with
   * its exit code, `destroy`, a stop signal's `kill`, `pause`, `unpause`, `health_status`) take
   * effect at once; then the container is inspected to confirm. Resolves when that inspect was applied.
   * Two need no inspect: `destroy` (the container no longer exists, and an ID never comes back)
   * and a stop signal to a container held running (it runs on until its `die` or the grace
   * period, each of which inspects); an inspect there costs the engine and us CPU and tells nothing.
   */
  event(ev: ContainerEvent): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = ev.id;
    const m = meaningOf(ev);
    if (m.kind === "died") {
      this.died(id, m.code);
      if (this.policy.confirmDieAfterMs > 0) return this.later(id, this.policy.confirmDieAfterMs);
    } else if (m.kind === "gone") {
      this.overtake(id);
      this.endStop(id);
      this.dropConfirmations(id);
      if (this.containers.delete(id)) this.apply(id);
      // No run follows to clear the mark that discards an inspect under way: cleared here.
      return this.inspections.settled(id).then(() => void this.overtaken.delete(id));
    } else if (m.kind === "stop-signal") {
      if ((this.options.deregisterOnStop ?? true) && this.stopSignal(id, m.signal)) return this.inspections.settled(id);
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
      this.confirmTimers.set(timer, { id, resolve });
    });
  }

  /** The container was destroyed: its pending `die` confirmations have nothing left to confirm. */
  private dropConfirmations(id: string): void {
    for (const [timer, c] of this.confirmTimers) {
      if (c.id !== id) continue;
      clearTimeout(timer);
      this.confirmTimers.delete(timer);
      c.resolve();
    }
  }

  /** A change known from the event itself, for a container we hold while it runs. */
  private changed(id: string, change: (t: Tracked) => void): void {
    const t = this.containers.get(id);
    if (!t?.running) return;
    this.overtake(id);
    change(t);
    this.apply(id);
  }

  /**
   * SIGTERM & co. to a running container: out of traffic until it dies, or until the grace period
   * ends. False when the container is not one held running (then only an inspect can tell).
   */
  private stopSignal(id: string, signal: string): boolean {
    const t = this.containers.get(id);
    if (!t?.running) return false;
    if (t.stopping) return true;
    const grace = this.policy.stopGraceMs;
    this.options.log.info(`stopping: ${short(id)} got signal ${signal}; its services leave traffic until it exits (back after ${Math.round(grace / 1000)} s if it keeps running)`);
    this.changed(id, (c) => (c.stopping = true));
    const timer = setTimeout(() => {
      this.stopTimers.delete(id);
      const now = this.containers.get(id);
      if (!now?.stopping) return;
      this.options.log.info(`back: ${short(id)} still runs ${Math.round(grace / 1000)} s after signal ${signal}; its services take traffic again`);
      this.changed(id, (c) => (c.stopping = false));
      void this.sync(id);
    }, grace);
    (timer as { unref?: () => void }).unref?.();
    this.stopTimers.set(id, timer);
    return true;
  }

  /** The container is back (start, unpause, healthy) or gone: no pending stop any more. */
  private endStop(id: string): void {
    const timer = this.stopTimers.get(id);
    if (timer) clearTimeout(timer);
    this.stopTimers.delete(id);
    const t = this.containers.get(id);
    if (t?.stopping) {
      t.stopping = false;
      if (t.running) this.apply(id);
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
      this.options.log.info(`kept: ${short(id)} exited with code ${code}; -deregister on-success keeps its services`);
    } else {
      this.containers.delete(id);
    }
    this.apply(id);
  }

  /** Full resync with Docker: every running container and every container we hold. */
  async syncAll(): Promise<void> {
    const running = await this.options.docker.list();
    const ids = new Set([...running.map((c) => c.Id), ...this.containers.keys()]);
    // A window of syncs in flight (see BridgePolicy.syncWindow).
    const next = ids.values();
    let done = 0;
    const worker = async () => {
      for (const id of next) {
        await this.sync(id);
        if (++done % this.policy.collectEvery === 0) this.options.collect?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(ids.size, this.policy.syncWindow) }, worker));
  }

  private async syncOnce(id: string): Promise<void> {
    const before = this.overtaken.get(id);
    let c: ContainerInspect | null;
    let input: DerivationInput | undefined;
    try {
      c = await this.options.docker.inspect(id);
      if (c?.State.Running) input = await derivationInput(this.options.docker, c);
    } catch (e) {
      // Docker is away; the reconnect's full resync will come back to this container.
      this.options.log.warn(`Cannot inspect container ${short(id)}: ${errorMessage(e)}`);
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
      if (prev.running) this.options.log.info(`kept: ${short(id)} exited with code ${c.State.ExitCode}; -deregister on-success keeps its services`);
      prev.running = false;
    } else {
      this.containers.delete(id);
    }
    this.apply(id);
  }

  private keepAfterExit(code: number): boolean {
    if (this.options.deregister !== "on-success") return false;
    return code !== 0 && (code & 128) === 0;
  }

  private deriveInto(id: string, inspected: ContainerInspect, input: DerivationInput, stopping: boolean): void {
    const name = inspected.Name.replace(/^\//, "");
    const log = this.options.log;
    let out: DeriveOutput;
    try {
      out = this.options.derive(input.container, input.peer, input.imageTag);
    } catch (e) {
      log.warn(`Skipping container "${name}" (${short(id)}): ${errorMessage(e)}`);
      this.containers.delete(id);
      return;
    }
    for (const w of out.warnings) log.warn(w, { container: name });
    for (const n of out.notes ?? []) log.info(n);
    for (const ig of out.ignored) log.info(`ignored: ${short(id)} port ${ig.port}: ${ig.reason}`, { container: name });
    shareIdentity(out.services, id, name);
    this.containers.set(id, { name, services: out.services, running: true, state: compactState(inspected.State), stopping });
  }

  /** Whether a service of this container takes traffic now, in a registry that mirrors health or not (services/traffic.ts decides). */
  private decide(t: Tracked, s: Service, mirrorsHealth: boolean): TrafficDecision {
    return trafficDecision({
      state: t.state,
      stopping: t.stopping && (this.options.deregisterOnStop ?? true),
      health: s.health,
      mirrorsHealth,
    });
  }

  /** WantedSource: what a container wants in a registry now. */
  wanted(id: string, mirrorsHealth: boolean): Wanted[] {
    const t = this.draining ? undefined : this.containers.get(id);
    return t ? t.services.map((service) => ({ service, decision: this.decide(t, service, mirrorsHealth) })) : [];
  }

  /** WantedSource: every service ID a held container wants. */
  wantedIds(): Set<string> {
    const ids = new Set<string>();
    if (!this.draining) for (const t of this.containers.values()) for (const s of t.services) ids.add(s.id);
    return ids;
  }

  /** A container changed: note its traffic changes, then every writer brings its registry along (not awaited). */
  private apply(id: string): void {
    this.noteTraffic(id);
    for (const w of this.writers) void w.changed(id);
  }

  /** One log line each time a service leaves traffic or comes back, with the reason. */
  private noteTraffic(id: string): void {
    const t = this.draining ? undefined : this.containers.get(id);
    let known = this.reasons.get(id);
    // Services the container no longer has are forgotten without a word: their removal says it.
    if (known) for (const sid of known.keys()) if (!t?.services.some((s) => s.id === sid)) known.delete(sid);
    for (const s of t?.services ?? []) {
      const decisions = this.writers.map((w) => this.decide(t!, s, w.mirrorsHealth));
      const reason = decisions[0]!.reason ?? "";
      const before = known?.get(s.id);
      if (before === reason || (before === undefined && !reason)) continue;
      if (reason) (known ??= this.reasons.set(id, new Map()).get(id)!).set(s.id, reason);
      else known?.delete(s.id);
      // A new service in traffic is announced by its registration; anything else is a change.
      this.options.onChange?.({ type: "traffic", service: s, ...(reason ? { outOfTraffic: reason } : {}) });
      if (reason) {
        const hows = decisions.map((d) => (d.register ? (d.mirror ? "registered with a critical Docker health check" : "registered") : "not registered"));
        const how = this.writers.length === 1 ? hows[0] : hows.map((h, i) => `${h} in ${this.writers[i]!.name}`).join(", ");
        this.options.log.info(`out of traffic: ${short(id)} ${s.id}: ${reason} (${how})`);
      } else {
        this.options.log.info(`in traffic: ${short(id)} ${s.id}`);
      }
    }
    if (known?.size === 0) this.reasons.delete(id);
  }

  /** Resolves when every registry's writes asked for so far are done (or failed, to be retried). */
  async flush(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.flush()));
  }

  /** Every registry compared with what we hold (see Writer.reconcile), each on its own. */
  async reconcileRegistry(opts: { cleanup?: boolean } = {}): Promise<void> {
    await Promise.all(this.writers.map((w) => w.reconcile(opts)));
  }

  /** TTL heartbeat, and the Docker health mirror checks set again, in every registry. */
  refreshTtl = () => Promise.all(this.writers.map((w) => w.refreshTtl())).then(() => {});
  refreshHealth = () => Promise.all(this.writers.map((w) => w.refreshHealth())).then(() => {});

  /** This host's services: per registry whether each is registered and its last error, and why it is out of traffic. */
  status(): ServiceStatus[] {
    const out: ServiceStatus[] = [];
    const first = this.writers[0]!;
    for (const [containerId, t] of this.containers) {
      for (const s of t.services) {
        const registries = this.writers.map((w) => w.stateOf(containerId, s));
        const d = this.decide(t, s, first.mirrorsHealth);
        const lastError = registries.find((r) => r.lastError)?.lastError;
        const service = d.register && d.mirror ? { ...s, mirror: d.mirror } : s;
        const registered = registries.every((r) => r.registered);
        out.push({ service, containerId, registered, ...(d.reason ? { outOfTraffic: d.reason } : {}), ...(lastError ? { lastError } : {}), registries });
      }
    }
    return out;
  }

  /** Services whose last write completed in every registry. */
  registered(): Service[] {
    const [first, ...others] = this.writers;
    const mine = first!.registered();
    return others.length === 0 ? mine : mine.filter((s) => others.every((w) => w.holds(s.id)));
  }

  /** Containers waiting to be inspected or written, in any registry. */
  pendingWrites(): number {
    return this.inspections.size + this.writers.reduce((n, w) => n + w.pending, 0);
  }

  /**
   * Stop: wait (bounded) for in-flight work; with deregisterAll, remove every service of this
   * host first, in every registry at once. Never throws.
   */
  async close(opts: { deregisterAll: boolean; timeoutMs: number }): Promise<void> {
    const deadline = new Promise<void>((r) => setTimeout(r, opts.timeoutMs).unref?.());
    this.closed = true;
    for (const t of this.stopTimers.values()) clearTimeout(t);
    this.stopTimers.clear();
    for (const [t, c] of this.confirmTimers) {
      clearTimeout(t);
      c.resolve();
    }
    this.confirmTimers.clear();
    const settled = this.inspections.idle().then(() => {
      if (opts.deregisterAll) this.draining = true;
    });
    await Promise.all(this.writers.map((w) => w.close({ deregisterAll: opts.deregisterAll, settled, deadline })));
  }
}
