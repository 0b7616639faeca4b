// Response shapes of the agent, catalog and health endpoints (field order as Go marshals them).
// The node's own shapes (api.Node, its serfHealth check) are the embedded registry's: the same
// Consul shapes, built by src/http/consul-shapes.ts for the emulated node.

import { type ConsulNode, catalogNodeFields, nodeShape, serfHealthShape } from "../../../src/http/consul-shapes.ts";
import { sortedMap } from "./gojsonout.ts";
import type { CheckRecord, ServiceRecord } from "./state.ts";

export interface NodeInfo {
  id: string;
  name: string;
  datacenter: string;
  version: string;
}

export const NODE_ADDRESS = "127.0.0.1";

/** The emulated node as the shared node shapes take it: it joined at index 11, before the "consul" service. */
function consulNode(node: NodeInfo): ConsulNode {
  const meta = new Map([
    ["consul-network-segment", ""],
    ["consul-version", node.version],
  ]);
  return { id: node.id, name: node.name, address: NODE_ADDRESS, datacenter: node.datacenter, meta, index: 11 };
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

/** The node's serfHealth check, always passing while the agent runs. */
export function serfHealth(node: NodeInfo): Record<string, unknown> {
  return serfHealthShape(consulNode(node));
}

/** GET /v1/catalog/service/<name> entries (structs.ServiceNode). */
export function catalogService(s: ServiceRecord, node: NodeInfo): Record<string, unknown> {
  const tagged = Object.keys(s.TaggedAddresses).length > 0 ? sortedMap(s.TaggedAddresses) : undefined;
  return {
    ...catalogNodeFields(consulNode(node)),
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

/** GET /v1/health/service/<name> entries (structs.CheckServiceNode). */
export function healthEntry(s: ServiceRecord, checks: CheckRecord[], node: NodeInfo): Record<string, unknown> {
  const tagged = Object.keys(s.TaggedAddresses).length > 0 ? sortedMap(s.TaggedAddresses) : undefined;
  return {
    Node: nodeShape(consulNode(node)),
    Service: {
      ID: s.ID,
      Service: s.Service,
      Tags: s.Tags ?? [],
      Address: s.Address,
      ...(tagged ? { TaggedAddresses: tagged } : {}),
      Meta: s.Meta === null ? null : sortedMap(s.Meta),
      Port: s.Port,
      Weights: s.Weights,
      EnableTagOverride: s.EnableTagOverride,
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
