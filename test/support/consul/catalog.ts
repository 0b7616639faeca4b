// Catalog and health reads (protocols.md 2.5), all blocking (2.6):
//   GET /v1/catalog/services              name → union of tags (the "consul" service included)
//   GET /v1/catalog/service/<name>[?tag=] instances; every ?tag= must match, case-insensitively
//   GET /v1/health/service/<name>[?tag=][&passing]
// The anonymous caller (ACLs on, no token) gets everything filtered away, like a real agent.
// ?filter= is the emulator's own go-bexpr subset (filter.ts).

import type { Hono } from "hono";
import type { Acl } from "./acl.ts";
import { blockOnIndex, parseWait } from "./blocking.ts";
import { sortedMap } from "./gojsonout.ts";
import { filterOf } from "./filter.ts";
import { type Ctx, type Env, HttpError, jsonResponse, pathTail, query, queryMeta, route } from "./http.ts";
import { hasAllTags, passingOnly } from "./query.ts";
import { type NodeInfo, catalogService, consulServiceRecord, healthEntry, sampleServiceRecord } from "./render.ts";
import type { ConsulState, ServiceRecord } from "./state.ts";

export interface CatalogConfig {
  state: ConsulState;
  acl: Acl;
  node: NodeInfo;
}

/** The agent's services plus the server's own "consul" service, by service ID. */
function allServices(cfg: CatalogConfig): ServiceRecord[] {
  const list = [consulServiceRecord(cfg.node.version), ...cfg.state.services.values()];
  return list.sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
}

function hasTags(s: ServiceRecord, tags: string[]): boolean {
  return hasAllTags(s.Tags, tags);
}

/** Common start of a catalog read: blocking parameters first, then the filter, name and token. */
function begin(cfg: CatalogConfig, c: Ctx, prefix?: string, shape: "catalog" | "health" = "catalog") {
  const params = parseWait(c);
  const sample = sampleServiceRecord();
  const filter = filterOf(c, () => (shape === "health" ? healthEntry(sample, [], cfg.node) : catalogService(sample, cfg.node)));
  const name = prefix === undefined ? "" : pathTail(c, prefix);
  if (prefix !== undefined && name === "") throw new HttpError(400, "Missing service name");
  const visible = cfg.acl.resolve(c) === "allowed";
  return { params, name, visible, filter };
}

export function catalogRoutes(app: Hono<Env>, cfg: CatalogConfig): void {
  const { state, node } = cfg;

  route(app, "/v1/catalog/services", ["GET"], async (c) => {
    const { params, visible, filter } = begin(cfg, c);
    await blockOnIndex(state, c, params, () => state.servicesIndex);
    const out: Record<string, Set<string>> = {};
    if (visible) {
      for (const s of allServices(cfg)) {
        if (filter && !filter(catalogService(s, node))) continue;
        const tags = (out[s.Service] ??= new Set());
        for (const t of s.Tags ?? []) tags.add(t);
      }
    }
    const body = sortedMap(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()])));
    return jsonResponse(c, body, queryMeta(state.servicesIndex));
  });

  route(app, "/v1/catalog/service/*", ["GET"], async (c) => {
    const { params, name, visible, filter } = begin(cfg, c, "/v1/catalog/service/");
    await blockOnIndex(state, c, params, () => state.indexForService(name));
    const tags = query(c).getAll("tag");
    const found = visible ? allServices(cfg).filter((s) => s.Service === name && hasTags(s, tags)) : [];
    const shaped = found.map((s) => catalogService(s, node)).filter((e) => !filter || filter(e));
    return jsonResponse(c, shaped, queryMeta(state.indexForService(name)));
  });

  route(app, "/v1/health/service/*", ["GET"], async (c) => {
    const { params, name, visible, filter } = begin(cfg, c, "/v1/health/service/", "health");
    await blockOnIndex(state, c, params, () => state.indexForService(name));
    const q = query(c);
    const tags = q.getAll("tag");
    const onlyPassing = passingOnly(q);
    const entries = (visible ? allServices(cfg) : [])
      .filter((s) => s.Service === name && hasTags(s, tags))
      .map((s) => ({ s, checks: state.checksOf(s.ID).sort((a, b) => (a.CheckID < b.CheckID ? -1 : 1)) }))
      .filter(({ checks }) => !onlyPassing || checks.every((chk) => chk.Status === "passing"));
    return jsonResponse(
      c,
      entries.map(({ s, checks }) => healthEntry(s, checks, node)).filter((e) => !filter || filter(e)),
      queryMeta(state.indexForService(name)),
    );
  });
}
