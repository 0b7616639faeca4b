// PUT /v1/agent/service/maintenance/<id>?enable=true|false[&reason=…] (Consul's
// AgentServiceMaintenance): in the agent's order, a missing ID, a missing or unparsable `enable`
// (400), the token and an unknown service (404), then add or remove the critical check
// `_service_maintenance:<id>` ("Service Maintenance Mode", Notes = reason or the default text).
// Enabling twice keeps the first reason; a re-register with replace-existing-checks drops the check.

import type { Hono } from "hono";
import { type Env, HttpError, emptyResponse, pathTail, query, route } from "./http.ts";
import type { AgentConfig } from "./register.ts";
import { zeroCheck } from "./schemas.ts";

export const SERVICE_MAINT_PREFIX = "_service_maintenance:";
export const DEFAULT_SERVICE_MAINT_REASON =
  "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

/** Go's strconv.ParseBool. */
function parseGoBool(raw: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(raw)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(raw)) return false;
  return undefined;
}

export function maintenanceRoutes(app: Hono<Env>, cfg: AgentConfig): void {
  const prefix = "/v1/agent/service/maintenance/";
  route(app, `${prefix}*`, ["PUT"], (c) => {
    const id = pathTail(c, prefix);
    if (id === "") throw new HttpError(400, "Missing service ID");
    const q = query(c);
    if (!q.has("enable")) throw new HttpError(400, "Missing value for enable");
    const raw = q.get("enable") ?? "";
    const enable = parseGoBool(raw);
    if (enable === undefined) throw new HttpError(400, `Invalid value for enable: ${JSON.stringify(raw)}`);
    const caller = cfg.acl.resolve(c);
    const svc = cfg.state.services.get(id);
    if (!svc) throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    cfg.acl.require(caller, "service", "write", svc.Service);

    const checkId = SERVICE_MAINT_PREFIX + id;
    const existing = cfg.state.checks.get(checkId);
    if (!enable) {
      if (existing) cfg.state.removeCheck(checkId);
      return emptyResponse();
    }
    if (existing) return emptyResponse();
    const idx = cfg.state.nextIndex();
    cfg.state.checks.set(checkId, {
      Node: cfg.nodeName,
      CheckID: checkId,
      Name: "Service Maintenance Mode",
      Status: "critical",
      Notes: q.get("reason") || DEFAULT_SERVICE_MAINT_REASON,
      Output: "",
      ServiceID: svc.ID,
      ServiceName: svc.Service,
      ServiceTags: svc.Tags,
      Type: "maintenance",
      Interval: "",
      Timeout: "",
      CreateIndex: idx,
      ModifyIndex: idx,
      def: zeroCheck(),
      criticalSince: Date.now(),
      outputMaxSize: 4096,
      lastOutput: "",
    });
    cfg.state.touchService(svc.Service, idx, false);
    cfg.state.notify();
    return emptyResponse();
  });
}
