// Agent endpoints: self, services, one service (hash blocking), register, deregister, checks.

import { createHash } from "node:crypto";
import type { Hono } from "hono";
import { blockWhile, parseWait } from "./blocking.ts";
import { sortedMap } from "./gojsonout.ts";
import { filterOf } from "./filter.ts";
import { type Env, HttpError, emptyResponse, jsonResponse, pathTail, route } from "./http.ts";
import { maintenanceRoutes } from "./maintenance.ts";
import { type AgentConfig, registerService } from "./register.ts";
import { type NodeInfo, agentService, healthCheck, sampleServiceRecord, serfHealth } from "./render.ts";

export interface AgentRoutesConfig extends AgentConfig {
  node: NodeInfo;
}

function contentHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

export function agentRoutes(app: Hono<Env>, cfg: AgentRoutesConfig): void {
  const { state, acl, node } = cfg;

  route(app, "/v1/agent/self", ["GET"], (c) => {
    acl.require(acl.resolve(c), "agent", "read", node.name);
    return jsonResponse(c, {
      Config: {
        Datacenter: node.datacenter,
        PrimaryDatacenter: node.datacenter,
        NodeName: node.name,
        NodeID: node.id,
        Revision: "emulator",
        Server: true,
        Version: node.version,
        BuildDate: "2025-01-01T00:00:00Z",
      },
      DebugConfig: { DevMode: true, EnableRemoteScriptChecks: cfg.enableScriptChecks },
      Coord: null,
      Member: { Name: node.name, Addr: "127.0.0.1", Port: 8301, Tags: { dc: node.datacenter, role: "consul" }, Status: 1 },
      Stats: { agent: { checks: String(state.checks.size), services: String(state.services.size) } },
      Meta: {},
    });
  });

  route(app, "/v1/agent/services", ["GET"], (c) => {
    const filter = filterOf(c, () => agentService(sampleServiceRecord(), node.datacenter));
    const caller = acl.resolve(c);
    const out: Record<string, unknown> = {};
    if (caller === "allowed") {
      for (const s of state.services.values()) {
        const shaped = agentService(s, node.datacenter);
        if (!filter || filter(shaped)) out[s.ID] = shaped;
      }
    }
    return jsonResponse(c, sortedMap(out));
  });

  route(app, "/v1/agent/checks", ["GET"], (c) => {
    const filter = filterOf(c, () => serfHealth(node));
    const caller = acl.resolve(c);
    const out: Record<string, unknown> = {};
    if (caller === "allowed") {
      for (const chk of state.checks.values()) {
        const shaped = healthCheck(chk, true);
        if (!filter || filter(shaped)) out[chk.CheckID] = shaped;
      }
    }
    return jsonResponse(c, sortedMap(out));
  });

  route(app, "/v1/agent/service/register", ["PUT"], (c) => registerService(cfg, c));

  route(app, "/v1/agent/service/deregister/*", ["PUT"], (c) => {
    const id = pathTail(c, "/v1/agent/service/deregister/");
    const caller = acl.resolve(c);
    const svc = state.services.get(id);
    if (!svc) {
      throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    }
    acl.require(caller, "service", "write", svc.Service);
    state.removeService(id);
    return emptyResponse();
  });

  // Before the GET route below, whose wildcard would answer a PUT here with 405.
  maintenanceRoutes(app, cfg);

  // GET /v1/agent/service/<id>: one local service plus ContentHash; ?hash=&wait= blocks until it changes.
  route(app, "/v1/agent/service/*", ["GET"], async (c) => {
    const id = pathTail(c, "/v1/agent/service/");
    const params = parseWait(c);
    const caller = acl.resolve(c);
    const hash = c.req.query("hash") ?? "";
    const view = () => {
      const s = state.services.get(id);
      if (!s) return undefined;
      const body = agentService(s, node.datacenter);
      return { name: s.Service, body: { ...body, ContentHash: contentHash(body) } };
    };
    if (hash !== "") {
      await blockWhile(state, c, { index: 1n, waitMs: params.waitMs }, () => view()?.body.ContentHash === hash);
    }
    const v = view();
    if (!v) throw new HttpError(404, `unknown service ID: ${id}`);
    acl.require(caller, "service", "read", v.name);
    return jsonResponse(c, v.body, { "X-Consul-ContentHash": v.body.ContentHash });
  });
}
