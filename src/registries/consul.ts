// Consul agent backend: consul://h:p, consul-tls://h:p, consul-unix:///path/to/sock.

import { ConfigError, RegistryError, errorMessage } from "../errors.ts";
import type { AdapterContext, AdapterFactory, ListedService, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import {
  type ConsulCheck,
  type Dropped,
  MIRROR_REFRESH_SECONDS,
  consulMeta,
  consulWeights,
  heartbeatCheck,
  heartbeatCheckId,
  mirrorCheck,
  mirrorCheckId,
  toConsulChecks,
} from "./consul-checks.ts";
import { ConsulClient, type ConsulSettings, jsonBody, readConsulSettings, quote, tcpEndpoint } from "./consul-client.ts";
import { uriError } from "./uri.ts";

/** The agent's answer when a check has Args but enable_script_checks is off (agent.go). */
const SCRIPTS_DISABLED = /Scripts are disabled on this agent/i;

const SCHEMES = "consul://host:port, consul-tls://host:port or consul-unix:///path/to/consul.sock";

/** Validates a consul URI plus the CONSUL_* environment; throws ConfigError. */
export function parseConsulUri(uri: RegistryUri, ctx: Pick<AdapterContext, "env" | "log">): ConsulSettings {
  const { scheme, authority, path } = uri;
  if (scheme === "consul-unix") {
    if (authority || !path.startsWith("/") || path === "/") throw uriError(uri, "expected consul-unix:///absolute/path/to/consul.sock");
    return readConsulSettings(ctx.env, () => ({ kind: "unix", socketPath: path, prefix: "" }), ctx.log);
  }
  if (scheme !== "consul" && scheme !== "consul-tls") throw uriError(uri, `expected ${SCHEMES}`);
  if (authority === undefined && path !== "") throw uriError(uri, `expected ${scheme}://host:port`);
  if (path !== "" && path !== "/") throw uriError(uri, `the consul backend takes no path (${SCHEMES})`);
  return readConsulSettings(ctx.env, (fromEnv, ssl) => tcpEndpoint(uri, scheme === "consul-tls", fromEnv, ssl), ctx.log);
}

/**
 * The register body fields that `GET /v1/agent/services` gives back, in a normalized form. With
 * EnableTagOverride the tags are left out: the agent adopts tags an operator set in the catalog
 * (Consul's agent/local/state.go), and writing ours back every -consul-sync would undo the override
 * the container asked for.
 */
function normalized(id: string, name: string, address: string, port: number, tags: string[], meta: Record<string, string>, eto: boolean, weights: Weights) {
  const sortedMeta = Object.keys(meta)
    .sort()
    .map((k) => [k, meta[k]]);
  return JSON.stringify({ id, name, address, port, tags: eto ? null : tags, meta: sortedMeta, eto, weights: [weights.Passing, weights.Warning] });
}

type Weights = { Passing: number; Warning: number };

/** The Weights the agent lists (it fills in 1/1 when none were registered). */
function listedWeights(v: unknown): Weights {
  const w = v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  return { Passing: typeof w.Passing === "number" ? w.Passing : 1, Warning: typeof w.Warning === "number" ? w.Warning : 1 };
}

/**
 * The fingerprint of a service as registrator would write it (`of`) and as Consul lists it back
 * (`listed`, from `/v1/agent/services` or `/v1/catalog/node-services`): equal when in sync.
 */
export const consulFingerprint = {
  of(service: Service): string {
    const { meta } = consulMeta(service.attrs);
    return normalized(service.id, service.name, service.ip, service.port, service.tags, meta, service.enableTagOverride, consulWeights(service));
  },
  listed(id: string, name: string, ip: string, port: number, tags: string[], meta: unknown, eto: boolean, weights: unknown): string {
    return normalized(id, name, ip, port, tags, stringMap(meta), eto, listedWeights(weights));
  },
};

/**
 * Refuse IDs that would change the meaning of a URL path (`..` is normalized away even when
 * encoded), or be ambiguous in the catalog: one rule for the agent (`where` "consul") and the
 * catalog adapter ("the consul catalog").
 */
export function checkServiceId(id: string, action: string, where = "consul"): void {
  if (id === "" || id === "." || id === "..") {
    throw new RegistryError(`Cannot ${action} ${quote(id)} in ${where}: an empty, "." or ".." service ID cannot be used`);
  }
}

const checkId = (id: string, action: string) => checkServiceId(id, action);

/** The agent's deregister path for a service ID (the ID is one percent-encoded segment). */
export function deregisterPath(id: string): string {
  return `/v1/agent/service/deregister/${encodeURIComponent(id)}`;
}

/** A service as Consul lists it (`/v1/agent/services` values, `/v1/catalog/node-services` Services), unchecked. */
export interface ListedServiceJson {
  ID?: unknown;
  Service?: unknown;
  Tags?: unknown;
  Meta?: unknown;
  Port?: unknown;
  Address?: unknown;
  EnableTagOverride?: unknown;
  Weights?: unknown;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** One listed service read leniently (a missing or mistyped field reads as empty), with its fingerprint. */
export function listedConsulService(id: string, raw: ListedServiceJson): ListedService {
  const name = typeof raw.Service === "string" ? raw.Service : "";
  const ip = typeof raw.Address === "string" ? raw.Address : "";
  const port = typeof raw.Port === "number" ? raw.Port : 0;
  const tags = strings(raw.Tags);
  return {
    id,
    name,
    ip,
    port,
    protocol: id.endsWith(":udp") || tags.includes("udp") ? "udp" : "tcp",
    fingerprint: consulFingerprint.listed(id, name, ip, port, tags, raw.Meta, raw.EnableTagOverride === true, raw.Weights),
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

export class ConsulAdapter implements RegistryAdapter {
  readonly backend = "consul";
  /** Docker's health goes into a registrator-owned TTL check (see setHealth). */
  readonly mirrorsHealth = true;
  readonly healthRefreshSeconds = MIRROR_REFRESH_SECONDS;
  /** `<service id>\0<what>` already warned about, so a resync does not repeat warnings. */
  private readonly warned = new Set<string>();
  /** Fingerprint of each service this adapter registered, to recognise one the agent dropped. */
  private readonly written = new Map<string, string>();
  /** Set once the agent answered that script checks are disabled: they are left out from then on. */
  private scriptsRefused = false;

  constructor(
    readonly client: ConsulClient,
    private readonly ctx: AdapterContext,
  ) {
  }

  /** The `PUT /v1/agent/service/register` body, and what was left out of it. */
  registration(service: Service): { body: Record<string, unknown>; dropped: Dropped[] } {
    const { meta, dropped } = consulMeta(service.attrs);
    const converted = toConsulChecks(service.checks, this.ctx.allowScriptChecks && !this.scriptsRefused);
    const checks: ConsulCheck[] = converted.checks;
    dropped.push(...converted.dropped);
    if (this.ctx.ttl > 0) {
      const hb = heartbeatCheck(service, this.ctx.ttl);
      checks.push(hb.check);
      if (hb.dropped) dropped.push(hb.dropped);
    }
    if (service.mirror) checks.push(mirrorCheck({ ...service, mirror: service.mirror }));
    const body: Record<string, unknown> = { ID: service.id, Name: service.name, Tags: [...service.tags] };
    if (service.ip) body.Address = service.ip;
    body.Port = service.port;
    body.Meta = meta;
    body.EnableTagOverride = service.enableTagOverride;
    if (service.weights) body.Weights = consulWeights(service);
    if (checks.length > 0) body.Checks = checks;
    return { body, dropped };
  }

  private warnOnce(service: Service, d: Dropped): void {
    warnDroppedOnce(this.ctx.log, this.warned, "consul", service, d);
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  async register(service: Service): Promise<void> {
    checkId(service.id, "register");
    const failure = `Cannot register ${quote(service.id)} in consul`;
    let sent: Record<string, unknown> = {};
    const send = async () => {
      const { body, dropped } = this.registration(service);
      for (const d of dropped) this.warnOnce(service, d);
      sent = body;
      return this.client.request("PUT", "/v1/agent/service/register?replace-existing-checks", failure, JSON.stringify(body));
    };
    let res = await send();
    if (res.status === 500 && !this.scriptsRefused && SCRIPTS_DISABLED.test(res.text)) {
      this.scriptsRefused = true;
      this.ctx.log.warn(
        "The consul agent refuses script checks (it answered: " +
          `${quote(res.text.trim().slice(0, 200))}): set enable_script_checks = true in the agent's configuration and restart ` +
          "registrator to have them; until then services are registered without their script checks",
      );
      res = await send();
    }
    if (res.status !== 200) throw this.client.httpError(failure, res);
    this.noteRewrite(service, sent);
    // The agent keeps the status of a check ID it already had: set the mirror's explicitly.
    if (service.mirror) await this.setHealth(service);
  }

  /** Sets the mirror check to `service.mirror` and restarts its TTL; 404 when the agent lost it. */
  async setHealth(service: Service): Promise<void> {
    if (!service.mirror) return;
    checkId(service.id, "update the health of");
    const id = mirrorCheckId(service.id);
    const failure = `Cannot set the Docker health check of ${quote(service.id)} in consul`;
    const body = JSON.stringify({ Status: service.mirror.status, Output: service.mirror.output });
    const res = await this.client.request("PUT", `/v1/agent/check/update/${encodeURIComponent(id)}`, failure, body);
    if (res.status !== 200) throw this.client.httpError(failure, res);
  }

  /** Service maintenance mode: the agent adds (or removes) the critical check `_service_maintenance:<id>`. */
  async maintenance(service: ServiceRef, enable: boolean, reason: string): Promise<void> {
    checkId(service.id, enable ? "put into maintenance" : "take out of maintenance");
    const failure = `Cannot ${enable ? "enable" : "disable"} maintenance of ${quote(service.id)} in consul`;
    const q = new URLSearchParams({ enable: String(enable) });
    if (enable && reason) q.set("reason", reason);
    const res = await this.client.request("PUT", `/v1/agent/service/maintenance/${encodeURIComponent(service.id)}?${q}`, failure);
    // Lifting maintenance of a service the agent no longer has is done.
    if (res.status === 200 || (!enable && res.status === 404)) return;
    throw this.client.httpError(failure, res);
  }

  /**
   * CHECK_DEREGISTER_AFTER: the agent removes a service whose check stays critical that long, and
   * registrator, which keeps a running container's services registered, writes it again at the next
   * -consul-sync or -resync. That loop is kept (the container still runs and asks to be registered)
   * but never silent: the first time an unchanged service has to be written again, a warning says why
   * and what to change.
   */
  private noteRewrite(service: Service, body: Record<string, unknown>): void {
    const fp = this.fingerprint(service);
    const again = this.written.get(service.id) === fp;
    this.written.set(service.id, fp);
    if (!again) return;
    // Only a DeregisterCriticalServiceAfter the agent was actually given can have reaped it.
    const checks = Array.isArray(body.Checks) ? (body.Checks as ConsulCheck[]) : [];
    const after = checks.find((c) => c.DeregisterCriticalServiceAfter)?.DeregisterCriticalServiceAfter;
    if (!after) return;
    const k = `${service.id}\0rewritten`;
    if (this.warned.has(k)) return;
    this.warned.add(k);
    this.ctx.log.warn(
      `Registering ${quote(service.id)} in consul again: the agent had removed it, most likely because a check stayed critical ` +
        `longer than CHECK_DEREGISTER_AFTER ${quote(after)}; registrator keeps a running container's services registered, so this ` +
        "repeats every -consul-sync until the check passes (fix the check, or drop CHECK_DEREGISTER_AFTER)",
      { container: service.origin.containerName, service: service.id },
    );
  }

  async deregister(service: ServiceRef): Promise<void> {
    this.written.delete(service.id);
    checkId(service.id, "deregister");
    const failure = `Cannot deregister ${quote(service.id)} from consul`;
    const res = await this.client.request("PUT", deregisterPath(service.id), failure);
    if (res.status !== 200 && res.status !== 404) throw this.client.httpError(failure, res);
  }

  /** Passes one heartbeat check; re-registers the service when the agent lost it. */
  private async heartbeat(service: Service): Promise<void> {
    const id = heartbeatCheckId(service.id);
    const failure = `Cannot pass the TTL check of ${quote(service.id)} in consul`;
    const res = await this.client.request("PUT", `/v1/agent/check/pass/${encodeURIComponent(id)}`, failure);
    if (res.status === 200) return;
    if (res.status === 404 || (res.status === 500 && /does not have associated TTL/i.test(res.text))) {
      this.ctx.log.info(`Consul agent lost ${quote(service.id)} (${res.status}); registering it again`, { service: service.id });
      await this.register(service);
      // The agent keeps the status of a check ID it already had (e.g. a critical non-TTL check): pass it now.
      const again = await this.client.request("PUT", `/v1/agent/check/pass/${encodeURIComponent(id)}`, failure);
      if (again.status === 200) return;
      throw this.client.httpError(failure, again);
    }
    throw this.client.httpError(failure, res);
  }

  async refresh(services: Service[]): Promise<void> {
    if (this.ctx.ttl <= 0) return;
    const errors: unknown[] = [];
    const queue = [...services];
    const worker = async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        try {
          await this.heartbeat(s);
        } catch (e) {
          errors.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
    const first = errors[0];
    if (first === undefined) return;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
    const status = first instanceof RegistryError ? first.status : undefined;
    throw new RegistryError(`${errorMessage(first)}${more}`, status, { cause: first });
  }

  async list(): Promise<ListedService[]> {
    const failure = "Cannot list the services of the consul agent";
    const res = await this.client.request("GET", "/v1/agent/services", failure);
    if (res.status !== 200) throw this.client.httpError(failure, res);
    const parsed = jsonBody(failure, res);
    if (!parsed || typeof parsed !== "object") throw new RegistryError(`${failure}: expected a JSON object`);
    const out: ListedService[] = [];
    for (const [key, raw] of Object.entries(parsed as Record<string, ListedServiceJson>)) {
      if (!raw || typeof raw !== "object") continue;
      out.push(listedConsulService(typeof raw.ID === "string" ? raw.ID : key, raw));
    }
    return out;
  }

  /** Same as `list()` reports once `service` is registered (checks are not part of it: the agent does not list them). */
  fingerprint(service: Service): string {
    return consulFingerprint.of(service);
  }

  async close(): Promise<void> {}
}

/**
 * One warning per service and dropped part (`warned` remembers them), so a resync does not repeat
 * it; `backend` names the adapter in the message.
 */
export function warnDroppedOnce(log: AdapterContext["log"], warned: Set<string>, backend: string, service: Service, d: Dropped): void {
  const k = `${service.id}\0${d.key}\0${d.reason}`;
  if (warned.has(k)) return;
  warned.add(k);
  log.warn(`Dropped ${quote(d.key).slice(1, -1)} of container ${quote(service.origin.containerName)} for ${backend}: ${d.reason}`, {
    container: service.origin.containerName,
    service: service.id,
    key: d.key,
  });
}

/** consul://h:p (default 127.0.0.1:8500 or CONSUL_HTTP_ADDR), consul-tls://h:p, consul-unix:///path/to/sock. */
export const consulFactory: AdapterFactory = (uri: RegistryUri, ctx: AdapterContext): RegistryAdapter =>
  new ConsulAdapter(new ConsulClient(parseConsulUri(uri, ctx), ctx), ctx);
