import { RegistryError } from "../errors.ts";
import type { ListedService, RegistryAdapter, Service, ServiceRef } from "../types.ts";

/** One service held by the embedded registry, with Consul's per-entry indexes. */
export interface LocalEntry {
  readonly service: Service;
  readonly createIndex: number;
  readonly modifyIndex: number;
  /** Index of the last change of the Docker health mirror (equal to modifyIndex when none). */
  readonly healthIndex: number;
}

/**
 * The embedded registry (local://): services held in this process, served by registrator's own
 * HTTP API in Consul's shapes (src/http/catalog.ts).
 *
 * Indexes follow Consul's blocking-query contract and never go backwards, across restarts too:
 * they come from the wall clock in microseconds (the first index is the start time; each change
 * takes max(previous + 1, now)), so a watcher that saw index N before a restart gets a larger one
 * after it. Each service name has its own index (a change to one service wakes only its
 * watchers); the service list has its own too. Keys are container-controlled strings: only Maps.
 */
export class LocalCatalog {
  private readonly byId = new Map<string, LocalEntry>();
  private readonly nameIndexes = new Map<string, number>();
  /** Entries by service name, so a read of one service does not scan the whole host. */
  private readonly byName = new Map<string, Map<string, LocalEntry>>();
  /** Index of the catalog's creation: what a name never seen reports. */
  readonly startIndex: number;
  /** The latest index of any change. */
  index: number;
  /** Index of the last change to the set of services or their tags (/v1/catalog/services). */
  servicesIndex: number;
  private waiters = new Set<() => void>();

  constructor(private readonly clock: () => number = () => Date.now() * 1000) {
    this.startIndex = Math.max(1, Math.floor(clock()));
    this.index = this.startIndex;
    this.servicesIndex = this.startIndex;
  }

  get services(): ReadonlyMap<string, LocalEntry> {
    return this.byId;
  }

  /** The instances of one service name. */
  instancesOf(name: string): Iterable<LocalEntry> {
    return this.byName.get(name)?.values() ?? [];
  }

  private place(entry: LocalEntry, old: LocalEntry | undefined): void {
    if (old) this.unplace(old);
    let group = this.byName.get(entry.service.name);
    if (!group) this.byName.set(entry.service.name, (group = new Map()));
    group.set(entry.service.id, entry);
  }

  private unplace(entry: LocalEntry): void {
    const group = this.byName.get(entry.service.name);
    group?.delete(entry.service.id);
    if (group?.size === 0) this.byName.delete(entry.service.name);
  }

  /** Index of the last change to any instance of `name`. */
  nameIndex(name: string): number {
    return this.nameIndexes.get(name) ?? this.startIndex;
  }

  private next(): number {
    this.index = Math.max(this.index + 1, Math.floor(this.clock()));
    return this.index;
  }

  /** Upsert; an identical service changes nothing (no index moves, no watcher wakes). */
  set(service: Service): void {
    const old = this.byId.get(service.id);
    if (old && contentOf(old.service) === contentOf(service) && mirrorOf(old.service) === mirrorOf(service)) return;
    const i = this.next();
    const healthOnly = old !== undefined && contentOf(old.service) === contentOf(service);
    const entry: LocalEntry = {
      service,
      createIndex: old?.createIndex ?? i,
      modifyIndex: healthOnly ? old.modifyIndex : i,
      healthIndex: i,
    };
    this.byId.set(service.id, entry);
    this.place(entry, old);
    if (!healthOnly) this.servicesIndex = i;
    if (old && old.service.name !== service.name) this.nameIndexes.set(old.service.name, i);
    this.nameIndexes.set(service.name, i);
    this.wake();
  }

  /** Sets the Docker health mirror of a held service; false when the service is not held. */
  setHealth(id: string, mirror: Service["mirror"]): boolean {
    const old = this.byId.get(id);
    if (!old) return false;
    this.set({ ...old.service, mirror });
    return true;
  }

  delete(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    this.unplace(old);
    const i = this.next();
    this.servicesIndex = i;
    this.nameIndexes.set(old.service.name, i);
    this.wake();
  }

  /** Drops every service (as if the registry lost them). */
  clear(): void {
    for (const id of [...this.byId.keys()]) this.delete(id);
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /**
   * Resolves once `changed()` is true (checked now and after every change), after `ms`, or when
   * `signal` aborts. Watchers whose `changed()` stays false keep waiting.
   */
  waitUntil(changed: () => boolean, ms: number, signal?: AbortSignal): Promise<void> {
    if (changed() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const check = () => {
        if (changed()) done();
        else this.waiters.add(check);
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

const contentOf = (s: Service) => JSON.stringify([s.name, s.ip, s.port, s.protocol, s.tags, Object.entries(s.attrs), s.enableTagOverride]);
const mirrorOf = (s: Service) => JSON.stringify(s.mirror ?? null);
const fingerprint = (s: Service) => JSON.stringify([s.name, s.ip, s.port, s.tags, s.attrs]);

export class LocalRegistry implements RegistryAdapter {
  readonly backend = "local";
  /** The embedded registry holds checks: `-health auto` registers at once and mirrors Docker's health. */
  readonly mirrorsHealth = true;
  constructor(readonly catalog: LocalCatalog = new LocalCatalog()) {}
  async ping(): Promise<void> {}
  async register(service: Service): Promise<void> {
    this.catalog.set(service);
  }
  async setHealth(service: Service): Promise<void> {
    if (!this.catalog.setHealth(service.id, service.mirror)) {
      throw new RegistryError(`Service "${service.id}" is not in the embedded registry`, 404);
    }
  }
  async deregister(service: ServiceRef): Promise<void> {
    this.catalog.delete(service.id);
  }
  async refresh(): Promise<void> {}
  async list(): Promise<ListedService[]> {
    return [...this.catalog.services.values()].map(({ service: s }) => ({
      id: s.id,
      name: s.name,
      ip: s.ip,
      port: s.port,
      protocol: s.protocol,
      fingerprint: fingerprint(s),
    }));
  }
  fingerprint(service: Service): string {
    return fingerprint(service);
  }
  async close(): Promise<void> {}
}
