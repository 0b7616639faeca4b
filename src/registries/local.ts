import type { ListedService, RegistryAdapter, Service, ServiceRef } from "../types.ts";

/**
 * The embedded registry (local://): services held in this process and served by registrator's own
 * HTTP API in Consul's read shapes. Every change bumps `index`, which blocking queries wait on.
 */
export class LocalCatalog {
  readonly services = new Map<string, Service>();
  /** Consul never reports index 0. */
  index = 1;
  private waiters = new Set<() => void>();

  set(service: Service): void {
    this.services.set(service.id, service);
    this.bump();
  }

  delete(id: string): void {
    if (this.services.delete(id)) this.bump();
  }

  private bump(): void {
    this.index++;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Resolves when the index passes `index` or after `ms`. */
  waitFor(index: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.index > index || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

const fingerprint = (s: Service) => JSON.stringify([s.name, s.ip, s.port, s.tags, s.attrs]);

export class LocalRegistry implements RegistryAdapter {
  readonly backend = "local";
  constructor(readonly catalog: LocalCatalog = new LocalCatalog()) {}
  async ping(): Promise<void> {}
  async register(service: Service): Promise<void> {
    this.catalog.set(service);
  }
  async deregister(service: ServiceRef): Promise<void> {
    this.catalog.delete(service.id);
  }
  async refresh(): Promise<void> {}
  async list(): Promise<ListedService[]> {
    return [...this.catalog.services.values()].map((s) => ({
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
