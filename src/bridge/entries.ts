import { RegistryError, errorMessage } from "../errors.ts";
import type { Logger, OutOfTrafficReason, RegistryAdapter, Service, ServiceRef } from "../types.ts";
import type { BridgeChange } from "./bridge.ts";

/** Registry writes: a service's entry, its Docker health mirror, its maintenance (stop-drain). */
export type WriteOp = "register" | "deregister" | "health" | "maintenance";

/**
 * One service ID that may be present in the registry because of us. It is forgotten only after a
 * delete of it succeeded: a write that failed or is in flight may still have landed.
 */
export interface Entry {
  /** The content last sent for this ID. */
  service: Service;
  /** The container that wants (or wanted) it. */
  owner: string;
  /**
   * The last write of `service` completed, so the registry holds its content; false while
   * unknown (in flight, failed, lost).
   */
  written: boolean;
  /** Registered with a Docker health mirror check; `mirror`: the status and output it last got. */
  mirrored: boolean;
  mirror: string | undefined;
  /** In maintenance (stop-drain) as far as we know; lifted once the container is back in traffic. */
  maint: boolean;
  /** Writes of this ID in flight. */
  writing: number;
  /** The clock when the last write of this ID completed (see `stamp`). */
  doneAt: number;
  /** Earlier refs of this ID at another backend key (renamed, new address), still to delete; replaced, never changed in place. */
  stale: readonly ServiceRef[];
}

export interface EntriesOptions {
  registry: RegistryAdapter;
  log: Logger;
  onChange?: (change: BridgeChange) => void;
  /** Observes every registry write: backend operation, outcome and duration. */
  observe?: (op: string, ok: boolean, seconds: number) => void;
  /** Why a service is out of traffic now, announced with a health or maintenance write that lands. */
  reasonOf: (serviceId: string) => OutOfTrafficReason | "" | undefined;
}

/** The `stale` of nearly every entry: one shared empty list rather than one per entry. */
const NONE: readonly ServiceRef[] = Object.freeze([]);

/**
 * Everything but provenance and the health mirror (set apart, with setHealth), as JSON: computed
 * when compared rather than held, which would cost each service its own string.
 */
function contentJson(s: Service): string {
  const { origin: _origin, mirror: _mirror, ...rest } = s;
  return JSON.stringify(rest);
}

/** Whether two services need no registration between them: equal in everything but origin and mirror. */
export function sameContent(a: Service, b: Service): boolean {
  return a === b || contentJson(a) === contentJson(b);
}

export const mirrorKey = (m: Service["mirror"]) => (m ? `${m.status}\0${m.output}` : undefined);

export const short = (id: string) => id.slice(0, 12);

function sameRef(a: ServiceRef, b: ServiceRef): boolean {
  return a.name === b.name && a.ip === b.ip && a.port === b.port && a.protocol === b.protocol;
}

/**
 * The registry-write side of the bridge: what this host may have in the registry (one Entry per
 * service ID, and which container owns it), the writes that change it, their last errors, and
 * a clock that orders write completions against listing requests.
 */
export class Entries {
  private readonly entries = new Map<string, Entry>();
  /** Service IDs each container has entries for: most containers have one, held as itself; more in a set. */
  private readonly owned = new Map<string, string | Set<string>>();
  private readonly errors = new Map<string, string>();
  /** Orders write completions and listing requests (issue: a listing only speaks for writes done before it). */
  private clock = 0;

  constructor(private readonly o: EntriesOptions) {}

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  values(): IterableIterator<Entry> {
    return this.entries.values();
  }

  lastError(id: string): string | undefined {
    return this.errors.get(id);
  }

  /** A point on the clock: writes completed after it have a later doneAt. */
  stamp(): number {
    return ++this.clock;
  }

  /**
   * The entries `owner` has that are not in `keep`, for deregistration; IDs another container took
   * over since are forgotten for it. Returns every such ID as well.
   */
  leftOver(owner: string, keep: Set<string>): { ids: string[]; entries: Entry[] } {
    const ids: string[] = [];
    const entries: Entry[] = [];
    const mine = this.owned.get(owner);
    for (const sid of mine === undefined ? [] : typeof mine === "string" ? [mine] : [...mine]) {
      if (keep.has(sid)) continue;
      ids.push(sid);
      const e = this.entries.get(sid);
      if (e?.owner === owner) entries.push(e);
      else this.disown(owner, sid);
    }
    return { ids, entries };
  }

  private own(owner: string, id: string): void {
    const mine = this.owned.get(owner);
    if (mine === undefined) this.owned.set(owner, id);
    else if (typeof mine !== "string") mine.add(id);
    else if (mine !== id) this.owned.set(owner, new Set([mine, id]));
  }

  private disown(owner: string, id: string): void {
    const mine = this.owned.get(owner);
    if (mine === undefined) return;
    if (typeof mine === "string") {
      if (mine === id) this.owned.delete(owner);
    } else if (mine.delete(id) && mine.size === 0) {
      this.owned.delete(owner);
    }
  }

  async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
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
      e = { service, owner, written: false, mirrored: false, mirror: undefined, maint: false, writing: 0, doneAt: 0, stale: NONE };
      this.entries.set(service.id, e);
    } else {
      if (e.owner !== owner) this.disown(e.owner, service.id);
      // A changed name/address lives at another key in most backends: the old one goes first.
      if (!sameRef(e.service, service) && !e.stale.some((r) => sameRef(r, e!.service))) e.stale = [...e.stale, e.service];
      e.service = service;
      e.owner = owner;
      e.written = false;
    }
    this.own(owner, service.id);
    e.writing++;
    return e;
  }

  async register(service: Service, owner: string): Promise<boolean> {
    const e = this.claim(service, owner);
    try {
      while (e.stale.length > 0) {
        const old = e.stale[0]!;
        await this.timed("deregister", () => this.o.registry.deregister(old));
        e.stale = e.stale.slice(1);
      }
      await this.timed("register", () => this.o.registry.register(service));
      if (e.service === service) {
        e.written = true;
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
  async setHealth(e: Entry, service: Service): Promise<boolean> {
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
        e.written = false;
        return this.register(service, e.owner);
      }
      return this.failed("health", service, err);
    } finally {
      e.writing--;
      e.doneAt = ++this.clock;
    }
  }

  async setMaintenance(e: Entry, enable: boolean, reason: string): Promise<boolean> {
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

  async deregister(e: Entry): Promise<boolean> {
    const service = e.service;
    e.writing++;
    e.written = false;
    try {
      // Read afresh each turn: a write claimed meanwhile may have added to it.
      for (let i = 0; i < e.stale.length; i++) {
        const old = e.stale[i]!;
        await this.timed("deregister", () => this.o.registry.deregister(old));
      }
      e.stale = NONE;
      await this.timed("deregister", () => this.o.registry.deregister(service));
      if (this.entries.get(service.id) === e && e.service === service && e.writing === 1) {
        this.entries.delete(service.id);
        this.disown(e.owner, service.id);
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
    const reason = this.o.reasonOf(service.id);
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
}
