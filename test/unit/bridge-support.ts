// An in-memory Docker source and registry for the bridge's unit tests.
import { Bridge, type BridgeChange, type BridgeOptions, type DockerSource } from "../../src/bridge/bridge.ts";
import type { ContainerInspect } from "../../src/docker/schema.ts";
import { memoryLogger } from "../../src/log.ts";
import { LocalRegistry } from "../../src/registries/local.ts";
import type { HealthMode, ListedService, Service, ServiceRef } from "../../src/types.ts";

export interface FakeContainer {
  running: boolean;
  exitCode: number;
  port: number;
  paused?: boolean;
  /** Docker's State.Health; absent: no HEALTHCHECK. */
  health?: { status: "starting" | "healthy" | "unhealthy"; output?: string };
  labels?: Record<string, string>;
}

/** A gate: calls wait on it until it is opened. */
export class Gate {
  private waiters: Array<() => void> = [];
  closed = false;
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.closed = false;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
  pass(): Promise<void> {
    if (!this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  get waiting(): number {
    return this.waiters.length;
  }
}

/** A Docker whose containers the test sets directly; inspect answers from that table (snapshot at call time). */
export class FakeDocker implements DockerSource {
  containers = new Map<string, FakeContainer>();
  inspectDelay = 0;
  /** Inspects wait here (after taking their snapshot) while it is closed. */
  readonly inspectGate = new Gate();
  inspects = 0;
  async list() {
    return [...this.containers].filter(([, c]) => c.running).map(([Id]) => ({ Id }));
  }
  async inspect(id: string): Promise<ContainerInspect | null> {
    const snapshot = this.containers.get(id);
    const c = snapshot ? { ...snapshot } : undefined;
    this.inspects++;
    await this.inspectGate.pass();
    if (this.inspectDelay) await new Promise((r) => setTimeout(r, this.inspectDelay));
    if (!c) return null;
    const health = c.health && { Status: c.health.status, Log: [{ Output: c.health.output ?? "", ExitCode: c.health.status === "healthy" ? 0 : 1 }] };
    return {
      Id: id,
      Name: "/" + id,
      Config: { Image: "app", Labels: c.labels ?? {} },
      State: { Running: c.running, Paused: c.paused ?? false, ExitCode: c.exitCode, ...(health ? { Health: health } : {}) },
      NetworkSettings: { Ports: { [`${c.port}/tcp`]: [{ HostIp: "0.0.0.0", HostPort: String(c.port) }] } },
    } as ContainerInspect;
  }
}

/** LocalRegistry with switchable failure and gates, counting writes. */
export class FlakyRegistry extends LocalRegistry {
  down = false;
  /** The write lands, then the call fails anyway (a timeout after the registry applied it). */
  failAfterWrite = false;
  writes = 0;
  calls: string[] = [];
  readonly writeGate = new Gate();
  readonly listGate = new Gate();
  override async register(s: Service) {
    this.calls.push(`register ${s.id}`);
    await this.writeGate.pass();
    if (this.down) throw new Error("registry down");
    this.writes++;
    await super.register(s);
    if (this.failAfterWrite) throw new Error("timed out");
  }
  override async deregister(s: ServiceRef) {
    this.calls.push(`deregister ${s.id}`);
    await this.writeGate.pass();
    if (this.down) throw new Error("registry down");
    this.writes++;
    return super.deregister(s);
  }
  /** The listing is taken when asked for; it is answered once the list gate opens. */
  override async list(): Promise<ListedService[]> {
    const snapshot = await super.list();
    await this.listGate.pass();
    return snapshot;
  }
}

export const derive = (c: ContainerInspect) => {
  const [key] = Object.keys(c.NetworkSettings?.Ports ?? {});
  const port = Number(key!.split("/")[0]);
  const name = c.Name.slice(1);
  const service: Service = {
    id: `host:${name}:${port}`,
    name: "app",
    ip: "127.0.0.1",
    port,
    protocol: "tcp",
    tags: [],
    attrs: {},
    checks: [],
    enableTagOverride: false,
    health: (c.Config.Labels?.SERVICE_HEALTH as HealthMode | undefined) ?? "auto",
    origin: { containerId: c.Id, containerName: name, exposedPort: port, hostPort: String(port), hostIp: "0.0.0.0" },
    // TEST_WHY stands for the text of the rule that chose the address (Service.why).
    ...(c.Config.Labels?.TEST_WHY ? { why: { address: c.Config.Labels.TEST_WHY, port: "published port", name: "image" } } : {}),
  };
  return { services: [service], ignored: [], warnings: [] };
};

/** A registry that cannot hold an unhealthy service (etcd, ZooKeeper…): registered only while in traffic. */
export class PlainRegistry extends FlakyRegistry {
  constructor() {
    super();
    // LocalRegistry types the flag as the literal true; this stand-in for etcd & co. has it off.
    Object.defineProperty(this, "mirrorsHealth", { value: false });
  }
}

/** A registry with Consul's stop-drain: service maintenance mode. */
export class DrainingRegistry extends FlakyRegistry {
  readonly maint = new Map<string, string>();
  async maintenance(s: ServiceRef, enable: boolean, reason: string): Promise<void> {
    this.calls.push(`maintenance ${s.id} ${enable}`);
    await this.writeGate.pass();
    if (this.down) throw new Error("registry down");
    if (enable) this.maint.set(s.id, reason);
    else this.maint.delete(s.id);
  }
}

export function setup(
  opts: Partial<Pick<BridgeOptions, "deregister" | "cleanup" | "deregisterOnStop" | "stopGraceMs" | "collect" | "confirmDieAfterMs">> & {
    registry?: FlakyRegistry;
    /** More registries written beside `registry` (each by its own writer), by name. */
    more?: Record<string, FlakyRegistry>;
  } = {},
) {
  const docker = new FakeDocker();
  const registry = opts.registry ?? new FlakyRegistry();
  const more = Object.entries(opts.more ?? {});
  const log = memoryLogger();
  const changes: BridgeChange[] = [];
  const bridge = new Bridge({
    docker,
    ...(more.length ? { registries: [{ name: "first", adapter: registry }, ...more.map(([name, adapter]) => ({ name, adapter }))] } : { registry }),
    derive,
    hostname: "host",
    deregister: opts.deregister ?? "always",
    cleanup: opts.cleanup ?? false,
    log,
    ...(opts.deregisterOnStop !== undefined ? { deregisterOnStop: opts.deregisterOnStop } : {}),
    ...(opts.stopGraceMs !== undefined ? { stopGraceMs: opts.stopGraceMs } : {}),
    ...(opts.collect ? { collect: opts.collect } : {}),
    // The tests below follow the confirming inspect of a die step by step: at once unless a test
    // is about the wait itself.
    confirmDieAfterMs: opts.confirmDieAfterMs ?? 0,
    retryMinMs: 5,
    retryMaxMs: 20,
    onChange: (c) => changes.push(c),
  });
  const ids = () => [...registry.catalog.services.keys()].sort();
  return { docker, registry, bridge, log, ids, changes };
}

export async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}
