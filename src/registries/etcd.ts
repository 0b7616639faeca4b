// etcd adapter: `<prefix>/<name>/<id>` = `ip:port` on the v3 API (leases for TTL), or on the v2
// keys API with `?api=v2`. The generic key/value adapter here is shared with skydns2, which only
// differs in its layout (key path and JSON value).

import { ConfigError, RegistryError, errorMessage } from "../errors.ts";
import { joinHostPort, splitHostPort } from "../hostport.ts";
import type { AdapterContext, ListedService, Logger, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import {
  EtcdAuthError,
  EtcdHttp,
  type EtcdSettings,
  type KvEntry,
  type KvStore,
  etcdSettings,
} from "./etcd-client.ts";
import { EtcdV2Store } from "./etcd2.ts";
import { EtcdV3Store } from "./etcd3.ts";
import { safeSegment } from "./uri.ts";

/** How a backend lays services out as keys and values. */
export interface KvLayout {
  /** Every key of ours starts with this; ends with "/". */
  readonly listPrefix: string;
  /** The key of a service; throws RegistryError for a name or ID that could leave its place. */
  key(ref: ServiceRef): string;
  value(service: Service): string;
  /** A listed key/value back to a service; undefined for keys that are not ours. */
  parse(entry: KvEntry): ListedService | undefined;
  /**
   * The directory a service's key is in, for layouts whose empty directories mean something to
   * readers (SkyDNS answers an empty name directory with NOERROR instead of NXDOMAIN): removed
   * after a deregistration when empty, where the store has directories.
   */
  dirOf?(ref: ServiceRef): string;
}

/** Options for tests and embedding; the registry URI and ETCDCTL_* carry everything else. */
export interface EtcdOptions {
  /** Per-request timeout before failing over to the next endpoint (default 5000 ms). */
  timeoutMs?: number;
}

export function etcdStore(settings: EtcdSettings, ctx: AdapterContext): { http: EtcdHttp; store: KvStore } {
  const http = new EtcdHttp(settings, ctx);
  const store = settings.api === "v2" ? new EtcdV2Store(http, ctx.ttl, ctx.log) : new EtcdV3Store(http, ctx.ttl, ctx.log);
  return { http, store };
}

export class KvAdapter implements RegistryAdapter {
  constructor(
    readonly backend: string,
    private readonly http: EtcdHttp,
    readonly store: KvStore,
    private readonly layout: KvLayout,
    private readonly log: Logger,
  ) {}

  private fail(action: string, e: unknown): RegistryError {
    const status = e instanceof RegistryError ? e.status : undefined;
    return new RegistryError(`${action} in ${this.backend}: ${errorMessage(e)}`, status, { cause: e });
  }

  async ping(): Promise<void> {
    try {
      await this.store.ping(this.layout.listPrefix);
    } catch (e) {
      if (e instanceof EtcdAuthError || e instanceof ConfigError) throw new ConfigError(errorMessage(e));
      const status = e instanceof RegistryError ? e.status : undefined;
      throw new RegistryError(
        `${this.backend} ping failed (etcd ${this.store.api} API at ${this.http.describe()}): ${errorMessage(e)}`,
        status,
        { cause: e },
      );
    }
  }

  async register(service: Service): Promise<void> {
    const key = this.layout.key(service);
    try {
      await this.store.put(key, this.layout.value(service));
    } catch (e) {
      throw this.fail(`Cannot register "${service.id}"`, e);
    }
  }

  async deregister(ref: ServiceRef): Promise<void> {
    const key = this.layout.key(ref);
    try {
      await this.store.delete(key);
      // A failure here fails the deregistration, so the bridge retries it (the key delete again is a no-op).
      if (this.layout.dirOf && this.store.removeEmptyDir) await this.store.removeEmptyDir(this.layout.dirOf(ref));
    } catch (e) {
      throw this.fail(`Cannot deregister "${ref.id}"`, e);
    }
  }

  async refresh(services: Service[]): Promise<void> {
    const entries: KvEntry[] = [];
    for (const s of services) {
      try {
        entries.push({ key: this.layout.key(s), value: this.layout.value(s) });
      } catch (e) {
        this.log.warn(errorMessage(e), { service: s.id });
      }
    }
    try {
      await this.store.refresh(entries);
    } catch (e) {
      throw this.fail(`Cannot refresh ${entries.length} services`, e);
    }
  }

  async list(): Promise<ListedService[]> {
    let entries: KvEntry[];
    try {
      entries = await this.store.list(this.layout.listPrefix);
    } catch (e) {
      throw this.fail(`Cannot list "${this.layout.listPrefix}"`, e);
    }
    const out: ListedService[] = [];
    for (const entry of entries) {
      const s = this.layout.parse(entry);
      if (s) out.push(s);
    }
    return out;
  }

  fingerprint(service: Service): string {
    return this.layout.value(service);
  }

  async close(opts?: { deregisterAll?: boolean }): Promise<void> {
    try {
      await this.store.close(!!opts?.deregisterAll);
    } catch (e) {
      throw this.fail("Cannot release the lease", e);
    }
  }
}

export function protocolOf(id: string): "tcp" | "udp" {
  return id.endsWith(":udp") ? "udp" : "tcp";
}

/** registrator's etcd layout: `<prefix>/<name>/<id>` = `ip:port`. */
export function etcdLayout(prefix: string): KvLayout {
  const listPrefix = `${prefix}/`;
  return {
    listPrefix,
    key: (ref) => `${prefix}/${safeSegment(ref.name, "service name", "etcd")}/${safeSegment(ref.id, "service ID", "etcd")}`,
    value: (s) => joinHostPort(s.ip, s.port),
    parse({ key, value }) {
      const parts = key.slice(listPrefix.length).split("/");
      const [name, id] = parts;
      if (!key.startsWith(listPrefix) || parts.length !== 2 || !name || !id) return undefined;
      const hp = splitHostPort(value);
      return { id, name, ip: hp?.host ?? "", port: hp?.port ?? 0, protocol: protocolOf(id), fingerprint: value };
    },
  };
}

export const ETCD_URI_FORM =
  "etcd://host:port[,host:port…]/prefix or etcd+https://…/prefix (default endpoint 127.0.0.1:2379), optionally ?api=v2";

/** `etcd://h:p[,h2:p2…]/prefix[?api=v2]`, `etcd+https://…`; TLS and auth from ETCDCTL_*. */
export function etcdFactory(uri: RegistryUri, ctx: AdapterContext, opts: EtcdOptions = {}): RegistryAdapter {
  const settings = etcdSettings(uri, ctx.env, { scheme: "etcd", form: ETCD_URI_FORM });
  if (opts.timeoutMs) settings.timeoutMs = opts.timeoutMs;
  const { http, store } = etcdStore(settings, ctx);
  return new KvAdapter("etcd", http, store, etcdLayout(settings.path), ctx.log);
}
