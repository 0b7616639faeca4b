import type { ContainerInspect } from "../docker/schema.ts";
import { errorMessage } from "../errors.ts";
import { ownedByHost } from "../services/identity.ts";
import type { Logger, RegistryAdapter, Service, ServiceRef } from "../types.ts";
import { KeyedQueue, Limiter } from "./queue.ts";

/** What the bridge needs from Docker (DockerClient satisfies it). */
export interface DockerSource {
  list(): Promise<Array<{ Id: string }>>;
  inspect(id: string): Promise<ContainerInspect | null>;
  /** An image's EXPOSE ports (Podman leaves them out of host-network containers' inspect). */
  imageExposedPorts?(image: string): Promise<Record<string, unknown> | undefined>;
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
  | { type: "failed"; op: "register" | "deregister"; service: ServiceRef; error: string };

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
}

interface Desired {
  name: string;
  services: Service[];
}

export interface ServiceStatus {
  service: Service;
  containerId: string;
  registered: boolean;
  lastError?: string;
  /** Present when the service is not taking traffic (see OutOfTrafficReason). */
  outOfTraffic?: import("../types.ts").OutOfTrafficReason;
}

/** Everything but provenance: two services with equal keys need no write. */
function serviceKey(s: Service): string {
  const { origin: _origin, ...rest } = s;
  return JSON.stringify(rest);
}

function sameRef(a: ServiceRef, b: ServiceRef): boolean {
  return a.name === b.name && a.ip === b.ip && a.port === b.port && a.protocol === b.protocol;
}

const short = (id: string) => id.slice(0, 12);

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
 * The reconcile loop. Per container, events only mark it dirty; a serialized sync inspects it and
 * sets its desired services (level-triggered: the last inspect wins, so a fast die→start ends
 * registered). A single-flight flush then writes the difference between desired and applied.
 * Failed writes stay pending and are retried with backoff, so an outage loses nothing.
 */
export class Bridge {
  private readonly desired = new Map<string, Desired>();
  private readonly applied = new Map<string, { service: Service; key: string }>();
  private readonly errors = new Map<string, string>();
  private readonly queue = new KeyedQueue();
  private readonly writes: Limiter;
  private readonly inspects: Limiter;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay: number;
  private closed = false;
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

  /** Full resync with Docker: every running container and every container we hold. */
  async syncAll(): Promise<void> {
    const running = await this.o.docker.list();
    const ids = new Set([...running.map((c) => c.Id), ...this.desired.keys()]);
    await Promise.all([...ids].map((id) => this.sync(id)));
  }

  private async syncOnce(id: string): Promise<void> {
    let c: ContainerInspect | null;
    try {
      c = await this.o.docker.inspect(id);
    } catch (e) {
      // Docker is away; the reconnect's full resync will come back to this container.
      this.o.log.warn(`Cannot inspect container ${short(id)}: ${errorMessage(e)}`);
      return;
    }
    const prev = this.desired.get(id);
    if (!c) {
      this.desired.delete(id);
    } else if (c.State.Running) {
      await this.deriveInto(id, c);
    } else if (prev && this.keepAfterExit(c)) {
      this.o.log.info(`kept: ${short(id)} exited with code ${c.State.ExitCode}; -deregister on-success keeps its services`);
    } else {
      this.desired.delete(id);
    }
    this.flush();
  }

  private keepAfterExit(c: ContainerInspect): boolean {
    if (this.o.deregister !== "on-success") return false;
    const code = c.State.ExitCode ?? 0;
    return code !== 0 && (code & 128) === 0;
  }

  private async deriveInto(id: string, inspected: ContainerInspect): Promise<void> {
    const name = inspected.Name.replace(/^\//, "");
    const { container: c, peer } = await derivationInput(this.o.docker, inspected);
    let out: DeriveOutput;
    try {
      out = this.o.derive(c, peer);
    } catch (e) {
      this.o.log.warn(`Skipping container "${name}" (${short(id)}): ${errorMessage(e)}`);
      this.desired.delete(id);
      return;
    }
    for (const w of out.warnings) this.o.log.warn(w, { container: name });
    for (const n of out.notes ?? []) this.o.log.info(n);
    for (const ig of out.ignored) this.o.log.info(`ignored: ${short(id)} port ${ig.port}: ${ig.reason}`, { container: name });
    this.desired.set(id, { name, services: out.services });
  }

  /** Ask for a flush; concurrent requests collapse into one more pass. */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.flushAgain = false;
          await this.applyDiff();
        } while (this.flushAgain);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private wanted(): Map<string, { service: Service; containerId: string }> {
    const want = new Map<string, { service: Service; containerId: string }>();
    for (const [containerId, d] of this.desired) for (const s of d.services) want.set(s.id, { service: s, containerId });
    return want;
  }

  private async applyDiff(): Promise<void> {
    const want = this.wanted();
    const ops: Array<Promise<boolean>> = [];
    for (const [id, { service }] of want) {
      const key = serviceKey(service);
      const had = this.applied.get(id);
      if (had?.key === key) continue;
      ops.push(this.writes.run(() => this.register(service, had?.service)));
    }
    for (const [id, { service }] of this.applied) {
      if (!want.has(id)) ops.push(this.writes.run(() => this.deregister(service)));
    }
    if (ops.length === 0) return;
    const results = await Promise.all(ops);
    if (results.every(Boolean)) {
      this.retryDelay = this.o.retryMinMs ?? 500;
    } else {
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.o.retryMaxMs ?? 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
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

  private async register(service: Service, previous: Service | undefined): Promise<boolean> {
    try {
      // A changed name/address lives at another key in most backends: remove the old entry first.
      if (previous && !sameRef(previous, service)) await this.timed("deregister", () => this.o.registry.deregister(previous));
      await this.timed("register", () => this.o.registry.register(service));
      this.applied.set(service.id, { service, key: serviceKey(service) });
      this.errors.delete(service.id);
      this.o.log.info(`added: ${short(service.origin.containerId)} ${service.id}`, { name: service.name, ip: service.ip, port: service.port });
      this.o.onChange?.({ type: "registered", service });
      return true;
    } catch (e) {
      return this.failed("register", service, e);
    }
  }

  private async deregister(service: Service): Promise<boolean> {
    try {
      await this.timed("deregister", () => this.o.registry.deregister(service));
      this.applied.delete(service.id);
      this.errors.delete(service.id);
      this.o.log.info(`removed: ${short(service.origin.containerId)} ${service.id}`);
      this.o.onChange?.({ type: "deregistered", service });
      return true;
    } catch (e) {
      return this.failed("deregister", service, e);
    }
  }

  private failed(op: "register" | "deregister", service: ServiceRef, e: unknown): false {
    const msg = errorMessage(e);
    if (this.errors.get(service.id) !== msg) {
      // Adapters usually say what failed already ("Cannot register "x" in etcd: …").
      const what = msg.includes(service.id) ? msg : `Cannot ${op} "${service.id}" in ${this.o.registry.backend}: ${msg}`;
      this.o.log.warn(`${what}; will retry`);
    }
    this.errors.set(service.id, msg);
    this.o.onChange?.({ type: "failed", op, service, error: msg });
    return false;
  }

  /**
   * Compare the registry with what we hold and write only the difference: entries that are
   * missing or differ get registered again; with -cleanup, this host's entries that no
   * container wants are removed. Backends that cannot list are left as they are.
   */
  async reconcileRegistry(opts: { cleanup?: boolean } = {}): Promise<void> {
    const { registry } = this.o;
    if (!registry.list) return;
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
    for (const [id, a] of this.applied) {
      const entry = byId.get(id);
      const fp = registry.fingerprint ? registry.fingerprint(a.service) : undefined;
      if (!entry || (fp !== undefined && entry.fingerprint !== fp)) this.applied.delete(id);
    }
    const want = this.wanted();
    const stale = (opts.cleanup ?? this.o.cleanup)
      ? listed.filter((l) => !want.has(l.id) && !this.applied.has(l.id) && ownedByHost(l.id, this.o.hostname))
      : [];
    await Promise.all(
      stale.map((ref) =>
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
    );
    await this.flush();
  }

  /** TTL heartbeat: hand every registered service to the backend's refresh. */
  async refreshTtl(): Promise<void> {
    const services = [...this.applied.values()].map((a) => a.service);
    try {
      await this.timed("refresh", () => this.o.registry.refresh(services));
    } catch (e) {
      this.o.log.warn(`Cannot refresh TTLs in ${this.o.registry.backend}: ${errorMessage(e)}`);
    }
  }

  /** This host's desired services, whether each is registered, and the last error. */
  status(): ServiceStatus[] {
    const out: ServiceStatus[] = [];
    for (const [containerId, d] of this.desired) {
      for (const s of d.services) {
        const a = this.applied.get(s.id);
        const lastError = this.errors.get(s.id);
        out.push({ service: s, containerId, registered: a?.key === serviceKey(s), ...(lastError ? { lastError } : {}) });
      }
    }
    return out;
  }

  /** Services currently written to the registry. */
  registered(): Service[] {
    return [...this.applied.values()].map((a) => a.service);
  }

  pendingWrites(): number {
    return this.queue.size + (this.flushing ? 1 : 0);
  }

  /**
   * Stop: wait (bounded) for in-flight work; with deregisterAll, remove every service of this
   * host first. Never throws.
   */
  async close(opts: { deregisterAll: boolean; timeoutMs: number }): Promise<void> {
    const deadline = new Promise<void>((r) => setTimeout(r, opts.timeoutMs).unref?.());
    this.closed = true;
    await Promise.race([this.queue.idle(), deadline]);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (opts.deregisterAll) {
      this.desired.clear();
      await Promise.race([this.applyDiff().catch(() => {}), deadline]);
    } else {
      await Promise.race([this.flushing ?? Promise.resolve(), deadline]);
    }
  }
}
