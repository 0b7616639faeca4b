// Consul without a local agent: consul-catalog://host:port. This host registers itself in the
// catalog as an external node (NodeMeta as Consul ESM expects it), its services on that node, and
// each Docker health mirror as a catalog check carrying its status (nobody runs a probe for it:
// registrator writes the status). Reads back with GET /v1/catalog/node-services/<node>.

import { ConfigError, RegistryError } from "../errors.ts";
import type { AdapterContext, AdapterFactory, ListedService, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import { consulMeta, consulWeights, mirrorCheckId, type Dropped } from "./consul-checks.ts";
import { ConsulClient, type ConsulSettings, jsonBody, quote, readConsulSettings, tcpEndpoint } from "./consul-client.ts";
import { uriError } from "./uri.ts";
import { checkServiceId, consulFingerprint, listedConsulService, type ListedServiceJson, warnDroppedOnce } from "./consul.ts";

/** What Consul ESM looks for: a node no agent runs, whose checks someone else reports. */
export const EXTERNAL_NODE_META = Object.freeze({ "external-node": "true", "external-probe": "true" });

const SCHEME_HINT = "consul-catalog://host:port (a Consul server or client agent's HTTP address)";

/** Validates a consul-catalog URI, the CONSUL_* environment and the flags that need an agent; throws ConfigError. */
export function parseConsulCatalogUri(uri: RegistryUri, ctx: Pick<AdapterContext, "env" | "log" | "ttl">): ConsulSettings {
  const { scheme, authority, path } = uri;
  if (scheme !== "consul-catalog") throw uriError(uri, `expected ${SCHEME_HINT}`);
  if (authority === undefined && path !== "") throw uriError(uri, `expected ${SCHEME_HINT}`);
  if (path !== "" && path !== "/") throw uriError(uri, `consul-catalog takes no path (${SCHEME_HINT})`);
  if (ctx.ttl > 0) {
    throw new ConfigError(
      `Flag -ttl cannot be used with consul-catalog://: a TTL check is run by the Consul agent of the node, and a catalog-registered ` +
        `(external) node has none, so the check would never expire; leave -ttl and -ttl-refresh out (deregistration on stop and ` +
        `-resync keep the catalog exact), or run a local agent and use consul://`,
    );
  }
  return readConsulSettings(ctx.env, (fromEnv, ssl) => tcpEndpoint(uri, false, fromEnv, ssl), ctx.log);
}

export class ConsulCatalogAdapter implements RegistryAdapter {
  readonly backend = "consul-catalog";
  /** The Docker health mirror is a catalog check whose status registrator writes. */
  readonly mirrorsHealth = true;
  /** `<service id>\0<what>` already warned about. */
  private readonly warned = new Set<string>();

  constructor(
    readonly client: ConsulClient,
    private readonly ctx: AdapterContext,
  ) {}

  private get node(): string {
    return this.ctx.hostname;
  }

  /** This node's address: this host's (as -ip or the startup lookup chose it), else the service's. */
  private address(service: Service): string {
    return this.ctx.nodeAddress?.() || service.ip;
  }

  /** The `PUT /v1/catalog/register` body, and what was left out of it. */
  registration(service: Service): { body: Record<string, unknown>; dropped: Dropped[] } {
    const { meta, dropped } = consulMeta(service.attrs);
    if (service.checks.length > 0) {
      dropped.push({
        key: "SERVICE_CHECK_*",
        reason: `${service.checks.length} check(s) left out: without a Consul agent on this host nobody runs them (consul-catalog registers only the Docker health mirror)`,
      });
    }
    const svc: Record<string, unknown> = { ID: service.id, Service: service.name, Tags: [...service.tags] };
    if (service.ip) svc.Address = service.ip;
    svc.Port = service.port;
    svc.Meta = meta;
    svc.Weights = consulWeights(service);
    svc.EnableTagOverride = service.enableTagOverride;
    const body: Record<string, unknown> = { Node: this.node, Address: this.address(service), NodeMeta: { ...EXTERNAL_NODE_META }, Service: svc };
    if (service.mirror) {
      body.Checks = [
        {
          Node: this.node,
          CheckID: mirrorCheckId(service.id),
          Name: "Docker health",
          Notes: `Docker's HEALTHCHECK of container "${service.origin.containerName}", written by registrator (-health auto)`,
          Status: service.mirror.status,
          Output: service.mirror.output,
          ServiceID: service.id,
        },
      ];
    }
    return { body, dropped };
  }

  private warnOnce(service: Service, d: Dropped): void {
    warnDroppedOnce(this.ctx.log, this.warned, "consul-catalog", service, d);
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  async register(service: Service): Promise<void> {
    checkId(service.id, "register");
    const failure = `Cannot register ${quote(service.id)} in the consul catalog`;
    const { body, dropped } = this.registration(service);
    for (const d of dropped) this.warnOnce(service, d);
    const res = await this.client.request("PUT", "/v1/catalog/register", failure, JSON.stringify(body));
    if (res.status !== 200) throw this.client.httpError(failure, res);
  }

  /** The catalog holds the check's status itself: registering again with the new one sets it. */
  async setHealth(service: Service): Promise<void> {
    if (service.mirror) await this.register(service);
  }

  async deregister(service: ServiceRef): Promise<void> {
    checkId(service.id, "deregister");
    const failure = `Cannot deregister ${quote(service.id)} from the consul catalog`;
    const res = await this.client.request("PUT", "/v1/catalog/deregister", failure, JSON.stringify({ Node: this.node, ServiceID: service.id }));
    if (res.status !== 200) throw this.client.httpError(failure, res);
  }

  /** No TTL checks here (-ttl is refused): nothing to refresh. */
  async refresh(): Promise<void> {}

  async list(): Promise<ListedService[]> {
    const failure = `Cannot list the services of node ${quote(this.node)} in the consul catalog`;
    const res = await this.client.request("GET", `/v1/catalog/node-services/${encodeURIComponent(this.node)}`, failure);
    if (res.status !== 200) throw this.client.httpError(failure, res);
    const parsed = jsonBody(failure, res) as { Services?: unknown } | null;
    if (!parsed || typeof parsed !== "object") throw new RegistryError(`${failure}: expected a JSON object`);
    // An unknown node (nothing registered yet, or the catalog forgot it) has null services.
    const services = Array.isArray(parsed.Services) ? (parsed.Services as ListedServiceJson[]) : [];
    const out: ListedService[] = [];
    for (const raw of services) {
      if (!raw || typeof raw !== "object" || typeof raw.ID !== "string") continue;
      out.push(listedConsulService(raw.ID, raw));
    }
    return out;
  }

  fingerprint(service: Service): string {
    return consulFingerprint.of(service);
  }

  async close(): Promise<void> {}
}

const checkId = (id: string, action: string) => checkServiceId(id, action, "the consul catalog");

/** consul-catalog://host:port (default 127.0.0.1:8500 or CONSUL_HTTP_ADDR); CONSUL_* as for consul://. */
export const consulCatalogFactory: AdapterFactory = (uri: RegistryUri, ctx: AdapterContext): RegistryAdapter =>
  new ConsulCatalogAdapter(new ConsulClient(parseConsulCatalogUri(uri, ctx), ctx), ctx);
