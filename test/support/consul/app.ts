// The hono app of the emulated agent: request log, fault injection, common headers, routes,
// and the agent's answers for unknown paths and failed handlers.

import { Hono } from "hono";
import { Acl } from "./acl.ts";
import { agentRoutes } from "./agent.ts";
import { catalogRoutes } from "./catalog.ts";
import { checkRoutes } from "./checks.ts";
import { DEFAULT_FAULT_BODY, type Faults } from "./faults.ts";
import { type Env, HttpError, jsonResponse, route, textResponse } from "./http.ts";
import { kvRoutes } from "./kv.ts";
import type { ResolvedOptions } from "./options.ts";
import type { NodeInfo } from "./render.ts";
import type { ConsulState } from "./state.ts";

/** One request as the emulator saw it. `status` is 0 while the request is still being answered. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** Query parameters (first value of each). */
  query: Record<string, string>;
  rawQuery: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  /** Arrival time, ms since the epoch. */
  time: number;
}

export interface AppDeps {
  opts: ResolvedOptions;
  state: ConsulState;
  node: NodeInfo;
  faults: Faults;
  log: RecordedRequest[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function buildApp({ opts, state, node, faults, log }: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const acl = new Acl(opts.token);

  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const body = new Uint8Array(await c.req.arrayBuffer());
    c.set("body", body);
    const entry: RecordedRequest = {
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries([...url.searchParams.entries()].reverse()),
      rawQuery: url.search.slice(1),
      headers: Object.fromEntries(c.req.raw.headers.entries()),
      body: new TextDecoder().decode(body),
      status: 0,
      time: Date.now(),
    };
    log.push(entry);
    const fault = faults.match(c.req.method, url.pathname);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status) {
      c.res = textResponse(fault.status, fault.body ?? DEFAULT_FAULT_BODY);
    } else {
      await next();
    }
    c.res.headers.set("X-Consul-Default-Acl-Policy", acl.defaultPolicy);
    c.res.headers.set("Vary", "Accept-Encoding");
    entry.status = c.res.status;
  });

  app.onError((err) => {
    if (err instanceof HttpError) return textResponse(err.status, err.message);
    return textResponse(500, err instanceof Error ? err.message : String(err));
  });

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    if (path === "/") {
      return textResponse(200, "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.");
    }
    return textResponse(
      404,
      path.includes("/v1/")
        ? "Invalid URL path: not a recognized HTTP API endpoint\n"
        : "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
    );
  });

  // Status endpoints never look at tokens.
  route(app, "/v1/status/leader", ["GET"], (c) => jsonResponse(c, "127.0.0.1:8300"));
  route(app, "/v1/status/peers", ["GET"], (c) => jsonResponse(c, ["127.0.0.1:8300"]));

  const agentCfg = {
    state,
    acl,
    node,
    nodeName: node.name,
    enableScriptChecks: opts.enableScriptChecks,
    reapMinimumMs: opts.reapMinimumMs,
  };
  agentRoutes(app, agentCfg);
  checkRoutes(app, agentCfg);
  catalogRoutes(app, { state, acl, node });
  kvRoutes(app, { state, acl, maxValueSize: opts.kvMaxValueSize, validateKeys: opts.kvKeyValidation });
  return app;
}
