// The shapes every part of registrator agrees on. Pure types, no runtime code.

import type { UriParts } from "./hostport.ts";

export type Protocol = "tcp" | "udp";

/** `-health` / `SERVICE_HEALTH` / `SERVICE_<port>_HEALTH` (parity.md "Taking traffic"). */
export type HealthMode = "auto" | "require" | "ignore";

/**
 * Why a service is not taking traffic right now (registered with a critical mirror check, in
 * Consul maintenance, or held back from the registry). Shown by `registrator services`,
 * `/v1/services` and the logs.
 */
export type OutOfTrafficReason = "starting" | "unhealthy" | "paused" | "stopping";

/**
 * Docker's health mirrored into one registrator-owned check (`-health auto` on backends whose
 * `mirrorsHealth` is true). `starting`, `unhealthy` and paused → critical; `healthy` → passing.
 */
export interface HealthMirror {
  status: "passing" | "critical";
  /** Docker's last probe output (or why the service is critical, e.g. "paused"). */
  output: string;
}

/** A backend-neutral health check derived from container metadata (see services/checks.ts). */
export interface CheckDef {
  kind: "http" | "https" | "tcp" | "grpc" | "ttl" | "script" | "cmd" | "udp" | "h2ping" | "docker";
  /** http(s): full URL; tcp, udp, h2ping: "ip:port" ("[v6]:port"); grpc: "ip:port" or "ip:port/service". */
  target?: string;
  /** script and docker: ["/bin/sh","-c",cmd]; cmd: ["check-cmd", <12-char id>, <exposed port>, <cmd>]. */
  args?: string[];
  /** docker: the container the command runs in (`docker exec`), its full ID. */
  containerId?: string;
  method?: string;
  /** http(s): request headers, each with one or more values. */
  headers?: Record<string, string[]>;
  /** http(s): request body. */
  body?: string;
  /** https, grpc, h2ping: the name the TLS certificate is verified against (SNI). */
  tlsServerName?: string;
  /** h2ping: speak TLS (Consul's default) or cleartext HTTP/2. */
  h2pingUseTLS?: boolean;
  /** Bytes of probe output the agent keeps. */
  outputMaxSize?: number;
  /** Consecutive successes before the check turns passing, failures before it turns critical. */
  successBeforePassing?: number;
  failuresBeforeCritical?: number;
  interval?: string;
  timeout?: string;
  ttl?: string;
  tlsSkipVerify?: boolean;
  grpcUseTLS?: boolean;
  initialStatus?: "passing" | "warning" | "critical";
  deregisterAfter?: string;
}

/** DNS/load-balancing weight while the service's checks are passing, and while one is warning. */
export interface ServiceWeights {
  passing: number;
  warning: number;
}

export interface ServiceOrigin {
  containerId: string;
  /** Container name without the leading slash. */
  containerName: string;
  /** The exposed (container) port. */
  exposedPort: number;
  /** The published host port as a string ("" when not published, e.g. -internal). */
  hostPort: string;
  /** The host IP of the binding as Docker reports it ("" when none). */
  hostIp: string;
}

/** One registry entry that a container's port should produce. */
export interface Service {
  id: string;
  name: string;
  ip: string;
  port: number;
  protocol: Protocol;
  tags: string[];
  attrs: Record<string, string>;
  checks: CheckDef[];
  enableTagOverride: boolean;
  /** SERVICE_WEIGHT_PASSING / SERVICE_WEIGHT_WARNING (Consul `Weights`); absent when neither is set. */
  weights?: ServiceWeights;
  /** Health policy resolved for this port; absent means "auto". */
  health?: HealthMode;
  /**
   * Set by the bridge (never by derivation) when this service's container has a HEALTHCHECK, its
   * health policy is "auto" and the backend mirrors health: the adapter registers one extra
   * registrator-owned TTL check with this initial status and output.
   */
  mirror?: HealthMirror;
  origin: ServiceOrigin;
  /**
   * Which rule chose the address, the port and the name (e.g. `SERVICE_IP`, `-ip → 10.1.2.3`,
   * `binding HostIp`, `-default-name compose`), for `registrator services` and `/v1/services`.
   * Display only: not part of what is registered, and the texts are shared, not built per event.
   */
  why?: ServiceWhy;
}

/** See `Service.why`. */
export interface ServiceWhy {
  address: string;
  port: string;
  name: string;
}

/** Enough to find and delete an entry in any backend. A Service satisfies it. */
export interface ServiceRef {
  id: string;
  name: string;
  ip: string;
  port: number;
  protocol: Protocol;
}

/** An entry read back from a registry: its identity plus a fingerprint to compare with `fingerprint(service)`. */
export interface ListedService extends ServiceRef {
  fingerprint: string;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options every adapter may need; adapters read their own env (CONSUL_*, ETCDCTL_*) via `env`. */
export interface AdapterContext {
  /** Plain fetch for http:// endpoints. */
  fetch: typeof fetch;
  runtime: import("./runtime/types.ts").Runtime;
  log: Logger;
  env: (name: string) => string | undefined;
  /** This host's name (the first segment of default service IDs). */
  hostname: string;
  /** -ttl in seconds, 0 when unset. */
  ttl: number;
  /** -ttl-refresh in seconds, 0 when unset. */
  ttlRefresh: number;
  /** -allow-script-checks */
  allowScriptChecks: boolean;
  /**
   * This host's address (-ip, else the one resolved at startup) once known: the node address of
   * backends that register this host itself (consul-catalog://).
   */
  nodeAddress?: () => string | undefined;
}

export interface RegistryAdapter {
  /** Backend name for logs and metrics: "etcd", "consul", "consul-catalog", "consulkv", "skydns2", "zookeeper", "local". */
  readonly backend: string;
  /** Cheap liveness check of the registry. Throws RegistryError when unreachable. */
  ping(): Promise<void>;
  /** Idempotent upsert. */
  register(service: Service): Promise<void>;
  /** Idempotent delete: an entry that is already gone counts as done. */
  deregister(service: ServiceRef): Promise<void>;
  /**
   * Called every -ttl-refresh with every service this host has registered in this backend.
   * etcd v3: one lease keepalive (re-grant and re-put all on lease loss); v2: refresh TTLs;
   * Consul: pass the registrator-owned TTL checks (re-register on 404).
   */
  refresh(services: Service[]): Promise<void>;
  /**
   * Entries in this backend that may belong to this host (the bridge filters by ID ownership).
   * Absent for backends that cannot list (ZooKeeper: ephemeral nodes).
   */
  list?(): Promise<ListedService[]>;
  /** What `list()` would report as fingerprint for this service once registered. */
  fingerprint?(service: Service): string;
  /**
   * True for backends that can hold a registered service which is not passing (Consul agent,
   * the embedded registry): there `-health auto` registers at once and mirrors Docker's health in
   * a check; elsewhere a service is registered only while it can take traffic.
   */
  readonly mirrorsHealth?: boolean;
  /**
   * How often (seconds) the mirror checks must be set again so they do not expire (Consul: a
   * third of their TTL). Absent: they never expire (the embedded registry).
   */
  readonly healthRefreshSeconds?: number;
  /**
   * Set the mirror check of an already registered service to `service.mirror` (Consul:
   * `PUT /v1/agent/check/update/<check id>` with Status and Output). Idempotent. Also called
   * periodically (well within the mirror check's TTL) to keep it from expiring. A RegistryError
   * with status 404 means the registry lost the service: the bridge registers it again.
   */
  setHealth?(service: Service): Promise<void>;
  /**
   * Stop-drain on backends that have it (Consul agent: service maintenance mode, which adds the
   * critical check `_service_maintenance:<id>`). `enable=false` lifts it. Idempotent.
   */
  maintenance?(service: ServiceRef, enable: boolean, reason: string): Promise<void>;
  /** Release connections; with deregisterAll, also drop leases/sessions (the bridge has already deregistered). */
  close(opts?: { deregisterAll?: boolean }): Promise<void>;
}

/** The registry URI as registries/uri.ts reads it once, before the adapter for its scheme is built. */
export interface RegistryUri extends UriParts {
  /** The URI as given (trimmed); redact it before it reaches a message. */
  text: string;
  /** `query` decoded. */
  params: URLSearchParams;
}

export type AdapterFactory = (uri: RegistryUri, ctx: AdapterContext) => RegistryAdapter;
