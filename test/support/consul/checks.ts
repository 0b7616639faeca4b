// TTL check updates and check deregistration (protocols.md 2.4).
//   PUT /v1/agent/check/pass|warn|fail/<id>?note=…   PUT /v1/agent/check/update/<id> {"Status","Output"}
// Unknown ID → 404 `Unknown check ID "<id>". …`; a non-TTL check → 500 `CheckID "<id>" does not have associated TTL`.

import type { Hono } from "hono";
import { GoDecodeError, decodeGoBody } from "./godecode.ts";
import { type Ctx, type Env, HttpError, bodyText, emptyResponse, pathTail, query, route } from "./http.ts";
import type { AgentConfig } from "./register.ts";
import { type CheckUpdate, CheckUpdateSchema } from "./schemas.ts";
import type { CheckRecord } from "./state.ts";
import { VALID_STATUSES } from "./validate.ts";

const unknownCheck = (id: string) =>
  new HttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);

/** vetCheckUpdate: the check must exist and the caller may write its service (or the node). */
function findForUpdate(cfg: AgentConfig, c: Ctx, id: string): CheckRecord {
  const caller = cfg.acl.resolve(c);
  const chk = cfg.state.checks.get(id);
  if (!chk) throw unknownCheck(id);
  if (chk.ServiceID) cfg.acl.require(caller, "service", "write", chk.ServiceName);
  else cfg.acl.require(caller, "node", "write", cfg.nodeName);
  return chk;
}

/** CheckTTL.SetStatus: truncates the output, records it, restarts the TTL timer. */
export function setTtlStatus(cfg: AgentConfig, chk: CheckRecord, status: string, output: string): void {
  if (chk.def.TTL <= 0n) throw new HttpError(500, `CheckID "${chk.CheckID}" does not have associated TTL`);
  const raw = new TextEncoder().encode(output);
  if (raw.length > chk.outputMaxSize) {
    const head = new TextDecoder().decode(raw.slice(0, chk.outputMaxSize));
    output = `${head} ... (captured ${chk.outputMaxSize} of ${raw.length} bytes)`;
  }
  chk.lastOutput = output;
  cfg.state.updateCheck(chk, status, output);
  cfg.state.armTtl(chk);
}

export function checkRoutes(app: Hono<Env>, cfg: AgentConfig): void {
  for (const [verb, status] of [
    ["pass", "passing"],
    ["warn", "warning"],
    ["fail", "critical"],
  ] as const) {
    const prefix = `/v1/agent/check/${verb}/`;
    route(app, `${prefix}*`, ["PUT"], (c) => {
      const id = pathTail(c, prefix);
      const chk = findForUpdate(cfg, c, id);
      setTtlStatus(cfg, chk, status, query(c).get("note") ?? "");
      return emptyResponse();
    });
  }

  route(app, "/v1/agent/check/update/*", ["PUT"], (c) => {
    let update: CheckUpdate;
    try {
      update = decodeGoBody<CheckUpdate>(CheckUpdateSchema, bodyText(c));
    } catch (e) {
      if (e instanceof GoDecodeError) throw new HttpError(400, `Request decode failed: ${e.message}`);
      throw e;
    }
    const status = update.Status ?? "";
    if (!VALID_STATUSES.includes(status)) throw new HttpError(400, `Invalid check status: '${status}'`);
    const id = pathTail(c, "/v1/agent/check/update/");
    const chk = findForUpdate(cfg, c, id);
    setTtlStatus(cfg, chk, status, update.Output ?? "");
    return emptyResponse();
  });

  route(app, "/v1/agent/check/deregister/*", ["PUT"], (c) => {
    const id = pathTail(c, "/v1/agent/check/deregister/");
    findForUpdate(cfg, c, id);
    cfg.state.removeCheck(id);
    return emptyResponse();
  });
}
