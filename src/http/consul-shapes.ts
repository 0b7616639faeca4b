// The embedded registry's answers in Consul's shapes, field for field and in Go's field order
// (api.CatalogService, api.ServiceEntry, api.HealthCheck, api.AgentService, api.Node).
// Objects keyed by container-controlled strings are built without a prototype.

import { consulWeights, mirrorCheck } from "../registries/consul-checks.ts";
import type { LocalEntry } from "../registries/local.ts";
import { sha256Hex } from "../sha256.ts";
import type { Service } from "../types.ts";

/** The Consul version whose HTTP API the embedded registry follows (agent/self, node meta). */
export const CONSUL_API_VERSION = "1.17.0";

export interface ConsulNode {
  /** A stable UUID derived from the node name. */
  id: string;
  name: string;
  /** This host's registered IP (-ip, or the resolved host address): read when shaped, so it follows -ip eth0. */
  readonly address: string;
  datacenter: string;
  meta: ReadonlyMap<string, string>;
  /** Index at which the node "joined": the catalog's start index. */
  index: number;
}

/**
 * A UUID from a SHA-256 of the name, so the same host always gets the same ID: version 8 by
 * RFC 9562 (5.8, the name-based SHA-256 example of its appendix B.2), since version 5 means SHA-1
 * of a namespace and name. Computed once at startup (WebCrypto is asynchronous).
 */
export async function nodeIdFor(name: string): Promise<string> {
  const h = (await sha256Hex(`registrator-node:${name}`)).split("");
  h[12] = "8";
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

export function makeNode(o: { id: string; name: string; address: () => string; datacenter: string; index: number }): ConsulNode {
  return {
    id: o.id,
    name: o.name,
    get address() {
      return o.address();
    },
    datacenter: o.datacenter,
    meta: new Map([
      ["consul-network-segment", ""],
      ["consul-version", CONSUL_API_VERSION],
    ]),
    index: o.index,
  };
}

/** An object with these entries and no prototype, keys sorted as Go sorts map keys. */
export function record<V>(entries: Iterable<[string, V]>): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  for (const [k, v] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

const family = (ip: string) => (ip.includes(":") ? "ipv6" : "ipv4");

function nodeTaggedAddresses(node: ConsulNode): Record<string, string> {
  const f = family(node.address);
  return record([
    ["lan", node.address],
    [`lan_${f}`, node.address],
    ["wan", node.address],
    [`wan_${f}`, node.address],
  ]);
}

/** The agent adds lan/wan tagged addresses for a service registered with an IP address. */
function serviceTaggedAddresses(s: Service): Record<string, { Address: string; Port: number }> {
  const f = family(s.ip);
  return record([
    [`lan_${f}`, { Address: s.ip, Port: s.port }],
    [`wan_${f}`, { Address: s.ip, Port: s.port }],
  ]);
}

const meta = (s: Service) => record(Object.entries(s.attrs));
/** SERVICE_WEIGHT_PASSING / _WARNING, else the agent's default 1/1: the same rule as the consul backend's. */
const weights = (s: Service) => consulWeights(s);

/** The node's identity: the first fields of api.Node and of a catalog entry (structs.ServiceNode). */
function nodeIdentity(node: ConsulNode) {
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: nodeTaggedAddresses(node),
  };
}

/** GET /v1/catalog/nodes entries, and the Node of health entries and catalog/node. */
export function nodeShape(node: ConsulNode): Record<string, unknown> {
  return {
    ...nodeIdentity(node),
    Meta: record(node.meta),
    CreateIndex: node.index,
    ModifyIndex: node.index,
  };
}

/** A catalog entry's node half (structs.ServiceNode), before the service's fields. */
export function catalogNodeFields(node: ConsulNode) {
  return { ...nodeIdentity(node), NodeMeta: record(node.meta) };
}

/** GET /v1/catalog/service/<name> entries. */
export function catalogServiceShape(e: LocalEntry, node: ConsulNode): Record<string, unknown> {
  const s = e.service;
  return {
    ...catalogNodeFields(node),
    ServiceKind: "",
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: s.tags,
    ServiceAddress: s.ip,
    ServiceTaggedAddresses: serviceTaggedAddresses(s),
    ServiceWeights: weights(s),
    ServiceMeta: meta(s),
    ServicePort: s.port,
    ServiceSocketPath: "",
    ServiceEnableTagOverride: s.enableTagOverride,
    ServiceProxy: { Mode: "", MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    ServiceLocality: null,
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
}

/** A catalog.NodeService (health entries' Service, catalog/node's Services). */
export function nodeServiceShape(e: LocalEntry): Record<string, unknown> {
  const s = e.service;
  return {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Address: s.ip,
    TaggedAddresses: serviceTaggedAddresses(s),
    Meta: meta(s),
    Port: s.port,
    Weights: weights(s),
    EnableTagOverride: s.enableTagOverride,
    Proxy: { Mode: "", MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: "",
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
}

/** GET /v1/agent/services values. */
export function agentServiceShape(e: LocalEntry, node: ConsulNode): Record<string, unknown> {
  const s = e.service;
  return {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Meta: meta(s),
    Port: s.port,
    Address: s.ip,
    TaggedAddresses: serviceTaggedAddresses(s),
    Weights: weights(s),
    EnableTagOverride: s.enableTagOverride,
    Datacenter: node.datacenter,
  };
}

interface CheckFields {
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
}

function checkShape(node: ConsulNode, f: CheckFields, index: number): Record<string, unknown> {
  return {
    Node: node.name,
    ...f,
    Interval: "",
    Timeout: "",
    ExposedPort: 0,
    Definition: {},
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** The node's serfHealth check: passing while registrator runs. */
export function serfHealthShape(node: ConsulNode): Record<string, unknown> {
  return checkShape(
    node,
    {
      CheckID: "serfHealth",
      Name: "Serf Health Status",
      Status: "passing",
      Notes: "",
      Output: "Agent alive and reachable",
      ServiceID: "",
      ServiceName: "",
      ServiceTags: [],
      Type: "",
    },
    node.index,
  );
}

/**
 * The service's own checks: the Docker health mirror when the bridge set one (a TTL check
 * registrator keeps), none otherwise. `local` is the agent's copy (no Raft indexes).
 */
export function serviceChecks(e: LocalEntry, node: ConsulNode, local = false): Record<string, unknown>[] {
  const s = e.service;
  if (!s.mirror) return [];
  // The same check the Consul adapter registers (ID, name, notes), held here instead of by an agent.
  const def = mirrorCheck({ ...s, mirror: s.mirror });
  return [
    checkShape(
      node,
      {
        CheckID: def.CheckID!,
        Name: def.Name!,
        Status: s.mirror.status,
        Notes: def.Notes ?? "",
        Output: s.mirror.output,
        ServiceID: s.id,
        ServiceName: s.name,
        ServiceTags: s.tags,
        Type: "ttl",
      },
      local ? 0 : e.healthIndex,
    ),
  ];
}

/** GET /v1/health/service/<name> entries. */
export function healthEntryShape(e: LocalEntry, node: ConsulNode): Record<string, unknown> {
  return {
    Node: nodeShape(node),
    Service: nodeServiceShape(e),
    Checks: [serfHealthShape(node), ...serviceChecks(e, node)],
  };
}

/** A stand-in entry, to check ?filter= selectors when there is nothing to filter. */
export function sampleEntry(): LocalEntry {
  return {
    service: {
      id: "",
      name: "",
      ip: "",
      port: 0,
      protocol: "tcp",
      tags: [],
      attrs: {},
      checks: [],
      enableTagOverride: false,
      origin: { containerId: "", containerName: "", exposedPort: 0, hostPort: "", hostIp: "" },
    },
    createIndex: 0,
    modifyIndex: 0,
    healthIndex: 0,
  };
}
