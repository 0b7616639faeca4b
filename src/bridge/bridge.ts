import type { ContainerInspect } from "../docker/schema.ts";
import { RegistryError, errorMessage } from "../errors.ts";
import { ownedByHost } from "../services/identity.ts";
import { type TrafficDecision, type TrafficState, trafficDecision } from "../services/traffic.ts";
import type { Logger, OutOfTrafficReason, RegistryAdapter, Service, ServiceRef } from "../types.ts";
import { KeyedQueue, Limiter } from "./queue.ts";

/** What the bridge needs from Docker (DockerClient satisfies it). */
export interface DockerSource {
  list(): Promise<Array<{ Id: string }>>;
  inspect(id: string): Promise<ContainerInspect | null>;
  /** An image's EXPOSE ports (Podman leaves them out of host-network containers' inspect). */
  imageExposedPorts?(image: string): Promise<Record<string, unknown> | undefined>;
}

/** One Docker event about a container, as the bridge needs it. */
export interface ContainerEvent {
  id: string;
  /** Docker's Action, e.g. "die", "destroy", "kill", "health_status: healthy". */
  action: string;
  /** Actor.Attributes (exitCode for die, signal for kill; Podman's names may differ). */
  attributes: Record<string, string>;
}

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

/** Registry writes: a service's entry, its Docker health mirror, its maintenance (stop-drain). */
type WriteOp = "register" | "deregister" | "health" | "maintenance";

export interface BridgeOptions {
  docker: DockerSource;
  registry: RegistryAdapter;
  derive: (container: ContainerInspect, peer?: ContainerInspect) => DeriveOutput;
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
 * One service ID that may be present in the registry because of us. It is forgotten only after a
 * delete of it succeeded: a write that failed or is in flight may still have landed.
 */
interface Entry {
  /** The content last sent for this ID. */
  service: Service;
  /** The container that wants (or wanted) it. */
  owner: string;
  /** serviceKey(service) once that write completed; undefined while unknown (in flight, failed, lost). */
  key: string | undefined;
  /** Registered with a Docker health mirror check; `mirror`: the status and output it last got. */
  mirrored: boolean;
  mirror: string | undefined;
  /** In maintenance (stop-drain) as far as we know; lifted once the container is back in traffic. */
  maint: boolean;
  /** Writes of this ID in flight. */
  writing: number;
  /** The clock when the last write of this ID completed (see `clock`). */
  doneAt: number;
  /** Earlier refs of this ID at another backend key (renamed, new address), still to delete. */
  stale: ServiceRef[];
}

export interface ServiceStatus {
  service: Service;
  containerId: string;
  registered: boolean;
  lastError?: string;
  /** Present when the service is not taking traffic (see OutOfTrafficReason). */
  outOfTraffic?: OutOfTrafficReason;
}

const keys = new WeakMap<Service, string>();
/**
 * Everything but provenance and the health mirror (set apart, with setHealth): two services with
 * equal keys need no registration. Computed once per derived object.
 */
function serviceKey(s: Service): string {
  let k = keys.get(s);
  if (k === undefined) {
    const { origin: _origin, mirror: _mirror, ...rest } = s;
    keys.set(s, (k = JSON.stringify(rest)));
  }
  return k;
}

const mirrorKey = (m: Service["mirror"]) => (m ? `${m.status}\0${m.output}` : undefined);

/** kill's `signal` attribute: a number from Docker ("15"), a name from Podman ("SIGTERM", "TERM"). */
const STOP_SIGNALS = new Set(["15", "2", "3", "9", "SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL", "TERM", "INT", "QUIT", "KILL"]);
export function isStopSignal(signal: string | undefined): boolean {
  return signal !== undefined && STOP_SIGNALS.has(signal.trim().toUpperCase());
}

function sameRef(a: ServiceRef, b: ServiceRef): boolean {
  return a.name === b.name && a.ip === b.ip && a.port === b.port && a.protocol === b.protocol;
}

const short = (id: string) => id.slice(0, 12);

/** A die event's exit code; undefined when the event does not carry one. */
function exitCodeOf(ev: ContainerEvent): number | undefined {
  const raw = ev.attributes.exitCode ?? ev.attributes.containerExitCode;
  if (raw === undefined || !/^-?\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

/**
 * What derivation needs beyond the inspect: the peer of a `container:<id>` network mode, and for
 * host-network containers without ExposedPorts (Podman omits them) the image's EXPOSE ports.
 */
export async function derivationInput(
  docker: DockerSource,
  c: ContainerInspect,
): Promise<{ container: ContainerInspect; peer?: ContainerInspect }> {
  const mode = c.HostConfig?.NetworkMode ?? "";
  if (mode === "host" && !c.Config.ExposedPorts && c.Image && docker.imageExposedPorts) {
    const exposed = await docker.imageExposedPorts(c.Image).catch(() => undefined);
    if (exposed) c = { ...c, Config: { ...c.Config, ExposedPorts: exposed } };
  }
  if (!mode.startsWith("container:")) return { container: c };
  const peer = (await docker.inspect(mode.slice("container:".length)).catch(() => null)) ?? undefined;
  return { container: c, ...(peer ? { peer } : {}) };
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
  private readonly entries = new Map<string, Entry>();
  /** Service IDs each container has entries for. */
  private readonly owned = new Map<string, Set<string>>();
  private readonly errors = new Map<string, string>();
  /** Inspections, per container. */
  private readonly queue = new KeyedQueue();
  /** Registry writes, per container. */
  private readonly applying = new KeyedQueue();
  private readonly writes: Limiter;
  private readonly inspects: Limiter;
  /** Per container, the number of the last event applied straight from the event. */
  private readonly overtaken = new Map<string, number>();
  private eventSeq = 0;
  /** Orders write completions and listing requests (issue: a listing only speaks for writes done before it). */
  private clock = 0;
  private readonly retrying = new Set<string>();
  private readonly stopTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per service ID, why it was last out of traffic ("" in traffic), to log each change once. */
  private readonly reasons = new Map<string, OutOfTrafficReason | "">();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay: number;
  private closed = false;
  private draining = false;
  private listError = "";

  constructor(private readonly o: BridgeOptions) {
    this.writes = new Limiter(o.concurrency ?? 8);
    this.inspects = new Limiter(o.concurrency ?? 8);
    this.retryDelay = o.retryMinMs ?? 500;
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
    const colon = ev.action.indexOf(":");
    const action = (colon < 0 ? ev.action : ev.action.slice(0, colon)).trim();
    const detail = colon < 0 ? "" : ev.action.slice(colon + 1).trim();
    const id = ev.id;
    if (action === "die" || action === "died") {
      const code = exitCodeOf(ev);
      if (code !== undefined) this.died(id, code);
    } else if (action === "destroy" || action === "remove") {
      this.overtake(id);
      this.endStop(id);
      if (this.containers.delete(id)) void this.apply(id);
    } else if (action === "kill") {
      if ((this.o.deregisterOnStop ?? true) && isStopSignal(ev.attributes.signal)) this.stopSignal(id, ev.attributes.signal!);
    } else if (action === "pause" || action === "unpause") {
      const paused = action === "pause";
      this.changed(id, (t) => {
        t.state = { ...t.state, Paused: paused };
        if (!paused) this.endStop(id);
      });
    } else if (action === "health_status" && detail) {
      // The event carries no probe output: the confirming inspect brings it.
      this.changed(id, (t) => {
        t.state = { ...t.state, Health: { Status: detail, Log: [] } };
        if (detail === "healthy") this.endStop(id);
      });
    } else if (action === "start") {
      this.endStop(id);
    }
    return this.sync(id);
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
    await Promise.all([...ids].map((id) => this.sync(id)));
  }

  private async syncOnce(id: string): Promise<void> {
    const before = this.overtaken.get(id);
    let c: ContainerInspect | null;
    let input: { container: ContainerInspect; peer?: ContainerInspect } | undefined;
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

  private deriveInto(id: string, inspected: ContainerInspect, input: { container: ContainerInspect; peer?: ContainerInspect }, stopping: boolean): void {
    const name = inspected.Name.replace(/^\//, "");
    let out: DeriveOutput;
    try {
      out = this.o.derive(input.container, input.peer);
    } catch (e) {
      this.o.log.warn(`Skipping container "${name}" (${short(id)}): ${errorMessage(e)}`);
      this.containers.delete(id);
      return;
    }
    for (const w of out.warnings) this.o.log.warn(w, { container: name });
    for (const n of out.notes ?? []) this.o.log.info(n);
    for (const ig of out.ignored) this.o.log.info(`ignored: ${short(id)} port ${ig.port}: ${ig.reason}`, { container: name });
    this.containers.set(id, { name, services: out.services, running: true, state: inspected.State, stopping });
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
    const key = serviceKey(s);
    if (d.register) {
      const want: Service = d.mirror ? { ...s, mirror: d.mirror } : s;
      const fresh = mine && e.key === key && e.stale.length === 0 && e.mirrored === (d.mirror !== undefined);
      const healthDue = fresh && d.mirror !== undefined && e.mirror !== mirrorKey(d.mirror);
      const lift = mine && e.maint;
      if (fresh && !healthDue && !lift) return undefined;
      return async () => {
        if (!fresh) {
          if (!(await this.register(want, id, key))) return false;
        } else if (healthDue && !(await this.setHealth(this.entries.get(s.id)!, want, key))) {
          return false;
        }
        const now = this.entries.get(s.id);
        if (now?.maint && !(await this.setMaintenance(now, false, ""))) return false;
        return true;
      };
    }
    // Stop-drain where the backend has it: the registered entry stays, in maintenance, until die.
    if (d.reason === "stopping" && this.o.registry.maintenance && mine && e.key !== undefined) {
      if (e.maint) return undefined;
      return () => this.setMaintenance(e, true, "Container is stopping (registrator -deregister-on-stop)");
    }
    if (mine) return () => this.deregister(e);
    return undefined;
  }

  /** One log line each time a service leaves traffic or comes back, with the reason. */
  private noteTraffic(id: string, s: Service, d: TrafficDecision): void {
    const reason = d.reason ?? "";
    const before = this.reasons.get(s.id);
    if (before === reason) return;
    this.reasons.set(s.id, reason);
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
    for (const sid of this.owned.get(id) ?? []) {
      if (wantIds.has(sid)) continue;
      this.reasons.delete(sid);
      const e = this.entries.get(sid);
      if (e?.owner === id) ops.push(this.writes.run(() => this.deregister(e)));
      else this.owned.get(id)?.delete(sid);
    }
    if (this.owned.get(id)?.size === 0) this.owned.delete(id);
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

  private async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.o.observe?.(op, true, (performance.now() - t0) / 1000);
      return r;
    } catch (e) {
      this.o.observe?.(op, false, (performance.now() - t0) / 1000);
      throw e;
    }
  }

  /** The entry of a write about to be sent: from now on the ID may be present in the registry. */
  private claim(service: Service, owner: string): Entry {
    let e = this.entries.get(service.id);
    if (!e) {
      e = { service, owner, key: undefined, mirrored: false, mirror: undefined, maint: false, writing: 0, doneAt: 0, stale: [] };
      this.entries.set(service.id, e);
    } else {
      if (e.owner !== owner) this.owned.get(e.owner)?.delete(service.id);
      // A changed name/address lives at another key in most backends: the old one goes first.
      if (!sameRef(e.service, service) && !e.stale.some((r) => sameRef(r, e!.service))) e.stale.push(e.service);
      e.service = service;
      e.owner = owner;
      e.key = undefined;
    }
    let mine = this.owned.get(owner);
    if (!mine) this.owned.set(owner, (mine = new Set()));
    mine.add(service.id);
    e.writing++;
    return e;
  }

  private async register(service: Service, owner: string, key: string): Promise<boolean> {
    const e = this.claim(service, owner);
    try {
      while (e.stale.length > 0) {
        const old = e.stale[0]!;
        await this.timed("deregister", () => this.o.registry.deregister(old));
        e.stale.shift();
      }
      await this.timed("register", () => this.o.registry.register(service));
      if (e.service === service) {
        e.key = key;
        e.mirrored = service.mirror !== undefined;
        e.mirror = mirrorKey(service.mirror);
      }
      this.errors.delete(service.id);
      this.o.log.info(`added: ${short(service.origin.containerId)} ${service.id}`, { name: service.name, ip: service.ip, port: service.port });
      this.o.onChange?.({ type: "registered", service });
      return true;
    } catch (err) {
      return this.failed("register", service, err);
    } finally {
      e.writing--;
      e.doneAt = ++this.clock;
    }
  }

  /** The mirror check of a registered service to `service.mirror`; a registry that lost the service gets it again. */
  private async setHealth(e: Entry, service: Service, key: string): Promise<boolean> {
    e.writing++;
    try {
      await this.timed("health", () => this.o.registry.setHealth!(service));
      e.service = service;
      // The periodic refresh (refreshHealth) sets the same status again: no news for anyone.
      const changed = e.mirror !== mirrorKey(service.mirror);
      e.mirror = mirrorKey(service.mirror);
      this.errors.delete(service.id);
      this.o.log.info(`health: ${short(service.origin.containerId)} ${service.id} ${service.mirror?.status}`, { output: service.mirror?.output });
      if (changed) this.trafficWritten(service, "health");
      return true;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) {
        e.key = undefined;
        return this.register(service, e.owner, key);
      }
      return this.failed("health", service, err);
    } finally {
      e.writing--;
      e.doneAt = ++this.clock;
    }
  }

  private async setMaintenance(e: Entry, enable: boolean, reason: string): Promise<boolean> {
    const service = e.service;
    e.writing++;
    try {
      await this.timed("maintenance", () => this.o.registry.maintenance!(service, enable, reason));
      e.maint = enable;
      this.errors.delete(service.id);
      this.o.log.info(`${enable ? "maintenance on" : "maintenance off"}: ${short(service.origin.containerId)} ${service.id}`);
      this.trafficWritten(service, "maintenance");
      return true;
    } catch (err) {
      return this.failed("maintenance", service, err);
    } finally {
      e.writing--;
      e.doneAt = ++this.clock;
    }
  }

  /**
   * Keep the Docker health mirror checks from expiring: set each again (well within their TTL).
   * A service the registry lost is registered again.
   */
  async refreshHealth(): Promise<void> {
    if (!this.o.registry.setHealth) return;
    const due = [...this.entries.values()].filter((e) => e.mirrored && e.key !== undefined && e.writing === 0 && e.service.mirror);
    const owners = new Set<string>();
    await Promise.all(
      due.map((e) =>
        this.writes.run(async () => {
          if (!(await this.setHealth(e, e.service, e.key!))) owners.add(e.owner);
        }),
      ),
    );
    for (const id of owners) {
      this.retrying.add(id);
      this.scheduleRetry();
    }
  }

  private async deregister(e: Entry): Promise<boolean> {
    const service = e.service;
    e.writing++;
    e.key = undefined;
    try {
      for (const old of e.stale) await this.timed("deregister", () => this.o.registry.deregister(old));
      e.stale = [];
      await this.timed("deregister", () => this.o.registry.deregister(service));
      if (this.entries.get(service.id) === e && e.service === service && e.writing === 1) {
        this.entries.delete(service.id);
        this.owned.get(e.owner)?.delete(service.id);
        if (this.owned.get(e.owner)?.size === 0) this.owned.delete(e.owner);
      }
      this.errors.delete(service.id);
      this.o.log.info(`removed: ${short(service.origin.containerId)} ${service.id}`);
      this.o.onChange?.({ type: "deregistered", service });
      return true;
    } catch (err) {
      return this.failed("deregister", service, err);
    } finally {
      e.writing--;
      e.doneAt = ++this.clock;
    }
  }

  /** A write carrying a service's traffic state landed: announced with the state it reflects. */
  private trafficWritten(service: Service, op: "health" | "maintenance"): void {
    const reason = this.reasons.get(service.id);
    this.o.onChange?.({ type: "traffic", service, op, ...(reason ? { outOfTraffic: reason } : {}) });
  }

  private failed(op: WriteOp, service: ServiceRef, e: unknown): false {
    const msg = errorMessage(e);
    if (this.errors.get(service.id) !== msg) {
      // Adapters usually say what failed already ("Cannot register "x" in etcd: …").
      const verb = op === "health" ? "set the Docker health check of" : op === "maintenance" ? "change the maintenance of" : op;
      const what = msg.includes(service.id) ? msg : `Cannot ${verb} "${service.id}" in ${this.o.registry.backend}: ${msg}`;
      this.o.log.warn(`${what}; will retry`);
    }
    this.errors.set(service.id, msg);
    this.o.onChange?.({ type: "failed", op, service, error: msg });
    return false;
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
    const requestedAt = ++this.clock;
    let listed;
    try {
      listed = await this.timed("list", () => registry.list!());
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
    for (const [id, e] of this.entries) {
      if (++n % 2000 === 0) await new Promise((r) => setTimeout(r, 0)); // a big host does not block the loop
      if (e.writing > 0 || e.doneAt > requestedAt || e.key === undefined) continue;
      const entry = byId.get(id);
      const fp = registry.fingerprint ? registry.fingerprint(e.service) : undefined;
      if (!entry || (fp !== undefined && entry.fingerprint !== fp)) {
        e.key = undefined;
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
            await this.timed("deregister", () => registry.deregister(ref));
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
      await this.timed("refresh", () => this.o.registry.refresh(services));
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
        const lastError = this.errors.get(s.id);
        const registered = e?.owner === containerId && e.key === serviceKey(s);
        const service = d.register && d.mirror ? { ...s, mirror: d.mirror } : s;
        out.push({ service, containerId, registered, ...(d.reason ? { outOfTraffic: d.reason } : {}), ...(lastError ? { lastError } : {}) });
      }
    }
    return out;
  }

  /** Services whose last write to the registry completed. */
  registered(): Service[] {
    const out: Service[] = [];
    for (const e of this.entries.values()) if (e.key !== undefined) out.push(e.service);
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
