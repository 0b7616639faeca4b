// Response shapes of the agent, catalog and health endpoints, in the field order Go marshals
// them (hashicorp/consul agent/structs/structs.go: Node, ServiceNode, NodeService, HealthCheck;
// api/agent.go: AgentService). test/support/consul/golden/ holds those structs and Consul's
// documented sample responses; test/unit/consul-emulator/golden.test.ts holds these shapes to them.

import { sortedMap } from "./gojsonout.ts";
import type { CheckRecord, ServiceRecord } from "./state.ts";

export interface NodeInfo {
  id: string;
  name: string;
  datacenter: string;
  version: string;
}

export const NODE_ADDRESS = "127.0.0.1";

/** Raft index at which a -dev agent's node entered the catalog, before the "consul" service (12). */
const NODE_INDEX = 11;

/** A -dev agent bound to 127.0.0.1 tags its node with lan/wan addresses of both kinds. */
function nodeTaggedAddresses(): Record<string, string> {
  return { lan: NODE_ADDRESS, lan_ipv4: NODE_ADDRESS, wan: NODE_ADDRESS, wan_ipv4: NODE_ADDRESS };
}

/** The node meta every agent writes: its network segment (empty outside Enterprise) and version. */
function nodeMeta(node: NodeInfo): Record<string, string> {
  return { "consul-network-segment": "", "consul-version": node.version };
}

/** The fields structs.Node and structs.ServiceNode both begin with, in Go's order. */
function nodeFields(node: NodeInfo) {
  return { ID: node.id, Node: node.name, Address: NODE_ADDRESS, Datacenter: node.datacenter, TaggedAddresses: nodeTaggedAddresses() };
}

/** A structs.Node (catalog/nodes entries, the Node of health entries). */
export function nodeEntry(node: NodeInfo): Record<string, unknown> {
  return {
    ...nodeFields(node),
    Meta: nodeMeta(node),
    CreateIndex: NODE_INDEX,
    ModifyIndex: NODE_INDEX,
  };
}

/** GET /v1/agent/services entries (api.AgentService): Tags and Meta are never null. */
export function agentService(s: ServiceRecord, dc: string): Record<string, unknown> {
  const tagged = Object.keys(s.TaggedAddresses).length > 0 ? sortedMap(s.TaggedAddresses) : undefined;
  return {
    ...(s.Kind ? { Kind: s.Kind } : {}),
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags ?? [],
    Meta: sortedMap(s.Meta ?? {}),
    Port: s.Port,
    Address: s.Address,
    ...(s.SocketPath ? { SocketPath: s.SocketPath } : {}),
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Weights: s.Weights,
    EnableTagOverride: s.EnableTagOverride,
    Datacenter: dc,
    ...(s.Locality ? { Locality: s.Locality } : {}),
  };
}

/**
 * A structs.HealthCheck; ServiceTags never null. The agent's local copy (agent/checks) carries
 * no Raft indexes, the catalog's copy (health endpoints) does.
 */
export function healthCheck(c: CheckRecord, local = false): Record<string, unknown> {
  return {
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: c.ServiceTags ?? [],
    Type: c.Type,
    Interval: c.Interval,
    Timeout: c.Timeout,
    ExposedPort: 0,
    Definition: {},
    CreateIndex: local ? 0 : c.CreateIndex,
    ModifyIndex: local ? 0 : c.ModifyIndex,
  };
}

/**
 * The node's serfHealth check (agent/structs/catalog.go SerfCheckID, SerfCheckName,
 * SerfCheckAliveOutput), passing while the agent runs; the leader wrote it when the node joined.
 */
export function serfHealth(node: NodeInfo): Record<string, unknown> {
  return {
    Node: node.name,
    CheckID: "serfHealth",
    Name: "Serf Health Status",
    Status: "passing",
    Notes: "",
    Output: "Agent alive and reachable",
    ServiceID: "",
    ServiceName: "",
    ServiceTags: [],
    Type: "",
    Interval: "",
    Timeout: "",
    ExposedPort: 0,
    Definition: {},
    CreateIndex: NODE_INDEX,
    ModifyIndex: NODE_INDEX,
  };
}

/** GET /v1/catalog/service/<name> entries (structs.ServiceNode). */
export function catalogService(s: ServiceRecord, node: NodeInfo): Record<string, unknown> {
  const tagged = Object.keys(s.TaggedAddresses).length > 0 ? sortedMap(s.TaggedAddresses) : undefined;
  return {
    ...nodeFields(node),
    NodeMeta: nodeMeta(node),
    ServiceKind: s.Kind,
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags ?? [],
    ServiceAddress: s.Address,
    ...(tagged ? { ServiceTaggedAddresses: tagged } : {}),
    ServiceWeights: s.Weights,
    ServiceMeta: s.Meta === null ? null : sortedMap(s.Meta),
    ServicePort: s.Port,
    ServiceSocketPath: s.SocketPath,
    ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: { Mode: "", MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    ServiceLocality: s.Locality ?? null,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/**
 * GET /v1/health/service/<name> entries (structs.CheckServiceNode). The Service is a
 * structs.NodeService, where Kind, TaggedAddresses, Port, SocketPath and Locality are omitempty.
 */
export function healthEntry(s: ServiceRecord, checks: CheckRecord[], node: NodeInfo): Record<string, unknown> {
  const tagged = Object.keys(s.TaggedAddresses).length > 0 ? sortedMap(s.TaggedAddresses) : undefined;
  return {
    Node: nodeEntry(node),
    Service: {
      ...(s.Kind ? { Kind: s.Kind } : {}),
      ID: s.ID,
      Service: s.Service,
      Tags: s.Tags ?? [],
      Address: s.Address,
      ...(tagged ? { TaggedAddresses: tagged } : {}),
      Meta: s.Meta === null ? null : sortedMap(s.Meta),
      ...(s.Port ? { Port: s.Port } : {}),
      ...(s.SocketPath ? { SocketPath: s.SocketPath } : {}),
      Weights: s.Weights,
      EnableTagOverride: s.EnableTagOverride,
      ...(s.Locality ? { Locality: s.Locality } : {}),
      Proxy: { Mode: "", MeshGateway: {}, Expose: {} },
      Connect: {},
      PeerName: "",
      CreateIndex: s.CreateIndex,
      ModifyIndex: s.ModifyIndex,
    },
    Checks: [serfHealth(node), ...checks.map((c) => healthCheck(c))],
  };
}

/** The "consul" service every server agent has in its catalog. */
export function consulServiceRecord(version: string): ServiceRecord {
  return {
    Kind: "",
    ID: "consul",
    Service: "consul",
    Tags: [],
    Address: "",
    TaggedAddresses: {},
    Meta: { non_voter: "false", raft_version: "3", read_replica: "false", serf_protocol_current: "2", serf_protocol_max: "5", serf_protocol_min: "1", version },
    Port: 8300,
    SocketPath: "",
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    CreateIndex: 12,
    ModifyIndex: 12,
  };
}

/** A blank service record: the shape ?filter= selectors are checked against. */
export function sampleServiceRecord(): ServiceRecord {
  return {
    Kind: "",
    ID: "",
    Service: "",
    Tags: [],
    Address: "",
    TaggedAddresses: {},
    Meta: {},
    Port: 0,
    SocketPath: "",
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    CreateIndex: 0,
    ModifyIndex: 0,
  };
}
