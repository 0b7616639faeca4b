// The catalog write endpoints, for nodes that run no agent (external nodes, as Consul ESM watches):
//   PUT /v1/catalog/register   structs.RegisterRequest → `true`
//   PUT /v1/catalog/deregister structs.DeregisterRequest → `true`
//   GET /v1/catalog/node-services/<node> → structs.NodeServiceList ({"Node": null, "Services": null} for an unknown node)
// Written from Consul's agent/catalog_endpoint.go (HTTP: strict decode, 400 "Request decode failed")
// and agent/consul/catalog_endpoint.go (Catalog.Register/Deregister: node, address, service and check
// pre-apply rules; their errors reach the client as 500 with the error text). The emulator's own node
// (the agent's local services) is not touched here: these nodes are held apart, like other members.

import type { Hono } from "hono";
import type { Acl } from "./acl.ts";
import { GoDecodeError, decodeGoBody, goInt, goBool, goMap, goOpaque, goString, goStrings, goStruct } from "./godecode.ts";
import { type Ctx, type Env, HttpError, bodyText, jsonResponse, pathTail, queryMeta, route } from "./http.ts";
import { sortedMap } from "./gojsonout.ts";
import { ServiceAddress, Weights } from "./schemas.ts";
import type { ConsulState } from "./state.ts";


const NodeServiceSchema = goStruct("NodeService", "structs.NodeService", {
  Kind: goString("structs.ServiceKind"),
  ID: goString(),
  Service: goString(),
  Tags: goStrings(),
  Address: goString(),
  TaggedAddresses: goMap(ServiceAddress),
  Meta: goMap(goString()),
  Port: goInt(),
  SocketPath: goString(),
  Weights,
  EnableTagOverride: goBool(),
  Proxy: goOpaque("structs.ConnectProxyConfig"),
  Connect: goOpaque("structs.ServiceConnect"),
  Locality: goOpaque("*structs.Locality"),
  PeerName: goString(),
  CreateIndex: goInt("uint64"),
  ModifyIndex: goInt("uint64"),
});

const HealthCheckSchema = goStruct("HealthCheck", "structs.HealthCheck", {
  Node: goString(),
  CheckID: goString("types.CheckID"),
  Name: goString(),
  Status: goString(),
  Notes: goString(),
  Output: goString(),
  ServiceID: goString(),
  ServiceName: goString(),
  ServiceTags: goStrings(),
  Type: goString(),
  Interval: goString(),
  Timeout: goString(),
  ExposedPort: goInt(),
  Definition: goOpaque("structs.HealthCheckDefinition"),
  PeerName: goString(),
  CreateIndex: goInt("uint64"),
  ModifyIndex: goInt("uint64"),
});

const RegisterRequestSchema = goStruct("RegisterRequest", "structs.RegisterRequest", {
  Datacenter: goString(),
  ID: goString("types.NodeID"),
  Node: goString(),
  Address: goString(),
  TaggedAddresses: goMap(goString()),
  NodeMeta: goMap(goString()),
  Service: NodeServiceSchema,
  Check: HealthCheckSchema,
  Checks: HealthCheckSchema.array(),
  SkipNodeUpdate: goBool(),
  PeerName: goString(),
  Locality: goOpaque("*structs.Locality"),
});

const DeregisterRequestSchema = goStruct("DeregisterRequest", "structs.DeregisterRequest", {
  Datacenter: goString(),
  Node: goString(),
  ServiceID: goString(),
  CheckID: goString("types.CheckID"),
  PeerName: goString(),
});

type NodeServiceIn = Partial<{
  Kind: string; ID: string; Service: string; Tags: string[]; Address: string; TaggedAddresses: Record<string, { Address?: string; Port?: number }>;
  Meta: Record<string, string>; Port: number; Weights: { Passing?: number; Warning?: number }; EnableTagOverride: boolean;
}>;
type HealthCheckIn = Partial<{
  Node: string; CheckID: string; Name: string; Status: string; Notes: string; Output: string; ServiceID: string; ServiceName: string;
  ServiceTags: string[]; Type: string; Interval: string; Timeout: string; Definition: unknown;
}>;
interface RegisterRequest {
  ID?: string; Node?: string; Address?: string; TaggedAddresses?: Record<string, string>; NodeMeta?: Record<string, string>;
  Service?: NodeServiceIn; Check?: HealthCheckIn; Checks?: Array<HealthCheckIn | undefined>; SkipNodeUpdate?: boolean;
}
interface DeregisterRequest { Node?: string; ServiceID?: string; CheckID?: string }

export interface ExternalService {
  Kind: string; ID: string; Service: string; Tags: string[] | null; Address: string; TaggedAddresses: Record<string, { Address: string; Port: number }>;
  Meta: Record<string, string>; Port: number; Weights: { Passing: number; Warning: number }; EnableTagOverride: boolean;
  CreateIndex: number; ModifyIndex: number;
}
export interface ExternalCheck {
  Node: string; CheckID: string; Name: string; Status: string; Notes: string; Output: string; ServiceID: string; ServiceName: string;
  ServiceTags: string[]; Type: string; Interval: string; Timeout: string; CreateIndex: number; ModifyIndex: number;
}
export interface ExternalNode {
  ID: string; Node: string; Address: string; Datacenter: string; TaggedAddresses: Record<string, string>; Meta: Record<string, string>;
  CreateIndex: number; ModifyIndex: number;
  services: Map<string, ExternalService>;
  checks: Map<string, ExternalCheck>;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const isAny = (a: string) => a === "0.0.0.0" || a === "::" || a === "[::]";

/** Nodes registered through the catalog; forgotten with the rest of the state on restart(). */
export class ExternalCatalog {
  readonly nodes = new Map<string, ExternalNode>();

  constructor(
    private readonly state: ConsulState,
    private readonly datacenter: string,
  ) {}

  reset(): void {
    this.nodes.clear();
  }

  /** Catalog.Register: the rules in Consul's order; a broken rule throws its error text (HTTP 500). */
  register(req: RegisterRequest): void {
    const name = req.Node ?? "";
    if (name === "") throw new HttpError(500, "Must provide node");
    if (req.ID && !UUID.test(req.ID)) throw new HttpError(500, `Bad node ID: uuid string is wrong length`);
    if ((req.Address ?? "") === "" && !req.SkipNodeUpdate) throw new HttpError(500, "Must provide address if SkipNodeUpdate is not set");
    const svc = req.Service;
    if (svc) {
      if ((svc.ID ?? "") === "" && (svc.Service ?? "") !== "") svc.ID = svc.Service;
      if ((svc.ID ?? "") !== "" && (svc.Service ?? "") === "") throw new HttpError(500, "Must provide service name with ID");
      if (isAny(svc.Address ?? "")) throw new HttpError(500, "Invalid service address");
    }
    const checks = [...(req.Checks ?? []), ...(req.Check ? [req.Check] : [])].map((c) => c ?? {});
    for (const c of checks) {
      c.Node ||= name;
      if (!c.CheckID && c.Name) c.CheckID = c.Name;
      if (c.Node !== name) throw new HttpError(500, `check node "${c.Node}" does not match node "${name}"`);
    }
    let node = this.nodes.get(name);
    if (!node && req.SkipNodeUpdate) throw new HttpError(500, "Missing node registration");
    // One transaction in Consul: every check is vetted before anything is written.
    for (const c of checks) {
      if (c.ServiceID && c.ServiceID !== svc?.ID && !node?.services.has(c.ServiceID)) throw new HttpError(500, "Missing service registration");
    }
    const idx = this.state.nextIndex();
    if (!node) {
      node = {
        ID: req.ID ?? "", Node: name, Address: req.Address ?? "", Datacenter: this.datacenter, TaggedAddresses: req.TaggedAddresses ?? {},
        Meta: req.NodeMeta ?? {}, CreateIndex: idx, ModifyIndex: idx, services: new Map(), checks: new Map(),
      };
      this.nodes.set(name, node);
    } else if (!req.SkipNodeUpdate) {
      Object.assign(node, { Address: req.Address ?? "", TaggedAddresses: req.TaggedAddresses ?? {}, Meta: req.NodeMeta ?? {}, ModifyIndex: idx });
      if (req.ID) node.ID = req.ID;
    }
    if (svc) {
      const prev = node.services.get(svc.ID!);
      const tagged: ExternalService["TaggedAddresses"] = {};
      for (const [k, v] of Object.entries(svc.TaggedAddresses ?? {})) tagged[k] = { Address: v.Address ?? "", Port: v.Port ?? 0 };
      node.services.set(svc.ID!, {
        Kind: svc.Kind ?? "", ID: svc.ID!, Service: svc.Service!, Tags: svc.Tags ?? null, Address: svc.Address ?? "", TaggedAddresses: tagged,
        Meta: svc.Meta ?? {}, Port: svc.Port ?? 0,
        // The catalog stores what it is given; the agent's 1/1 default applies only to agent registrations.
        Weights: { Passing: svc.Weights?.Passing ?? 0, Warning: svc.Weights?.Warning ?? 0 },
        EnableTagOverride: svc.EnableTagOverride ?? false, CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx,
      });
    }
    for (const c of checks) {
      const owner = c.ServiceID ? node.services.get(c.ServiceID) : undefined;
      const prev = node.checks.get(c.CheckID ?? "");
      node.checks.set(c.CheckID ?? "", {
        Node: name, CheckID: c.CheckID ?? "", Name: c.Name ?? "", Status: c.Status || "critical", Notes: c.Notes ?? "", Output: c.Output ?? "",
        ServiceID: c.ServiceID ?? "", ServiceName: owner?.Service ?? "", ServiceTags: owner?.Tags ?? [], Type: c.Type ?? "",
        Interval: c.Interval ?? "", Timeout: c.Timeout ?? "", CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx,
      });
    }
    this.state.notify();
  }

  /** Catalog.Deregister: a check, a service with its checks, or the whole node; absent ones are no error. */
  deregister(req: DeregisterRequest): void {
    const name = req.Node ?? "";
    if (name === "") throw new HttpError(500, "Must provide node");
    const node = this.nodes.get(name);
    if (node) {
      if (req.ServiceID) {
        node.services.delete(req.ServiceID);
        for (const [id, c] of node.checks) if (c.ServiceID === req.ServiceID) node.checks.delete(id);
      } else if (req.CheckID) {
        node.checks.delete(req.CheckID);
      } else {
        this.nodes.delete(name);
      }
      this.state.nextIndex();
      this.state.notify();
    }
  }
}

function decode<T>(schema: Parameters<typeof decodeGoBody>[0], c: Ctx): T {
  try {
    return decodeGoBody<T>(schema, bodyText(c));
  } catch (e) {
    if (e instanceof GoDecodeError) throw new HttpError(400, `Request decode failed: ${e.message}`);
    throw e;
  }
}

/** A catalog.NodeService as node-services lists it (Tags never null). */
export function nodeServiceShape(s: ExternalService): Record<string, unknown> {
  return {
    ...(s.Kind ? { Kind: s.Kind } : {}),
    ID: s.ID, Service: s.Service, Tags: s.Tags ?? [], Address: s.Address, TaggedAddresses: sortedMap(s.TaggedAddresses), Meta: sortedMap(s.Meta),
    Port: s.Port, Weights: s.Weights, EnableTagOverride: s.EnableTagOverride, Proxy: { Mode: "", MeshGateway: {}, Expose: {} }, Connect: {},
    PeerName: "", CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  };
}

export function externalCatalogRoutes(app: Hono<Env>, cfg: { catalog: ExternalCatalog; acl: Acl; state: ConsulState }): void {
  route(app, "/v1/catalog/register", ["PUT"], (c) => {
    const req = decode<RegisterRequest>(RegisterRequestSchema, c);
    const caller = cfg.acl.resolve(c);
    cfg.acl.require(caller, "node", "write", req.Node ?? "");
    cfg.catalog.register(req);
    return jsonResponse(c, true);
  });
  route(app, "/v1/catalog/deregister", ["PUT"], (c) => {
    const req = decode<DeregisterRequest>(DeregisterRequestSchema, c);
    const caller = cfg.acl.resolve(c);
    cfg.acl.require(caller, "node", "write", req.Node ?? "");
    cfg.catalog.deregister(req);
    return jsonResponse(c, true);
  });
  route(app, "/v1/catalog/node-services/*", ["GET"], (c) => {
    const name = pathTail(c, "/v1/catalog/node-services/");
    if (name === "") throw new HttpError(400, "Missing node name");
    const visible = cfg.acl.resolve(c) === "allowed";
    const node = visible ? cfg.catalog.nodes.get(name) : undefined;
    const headers = queryMeta(cfg.state.index);
    if (!node) return jsonResponse(c, { Node: null, Services: null }, headers);
    const { services, checks: _checks, ...fields } = node;
    const Node = { ...fields, TaggedAddresses: sortedMap(fields.TaggedAddresses), Meta: sortedMap(fields.Meta) };
    const list = [...services.values()].sort((a, b) => (a.ID < b.ID ? -1 : 1)).map(nodeServiceShape);
    return jsonResponse(c, { Node, Services: list }, headers);
  });
}
