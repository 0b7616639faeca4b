import type { Context, Hono } from "hono";
import type { LocalCatalog, LocalEntry } from "../registries/local.ts";
import { agentRoutes } from "./consul-agent.ts";
import { type Filter, queryFilter } from "./consul-filter.ts";
import { healthRoutes } from "./consul-health.ts";
import { QueryError, matchesNodeMeta, matchesTags, parseNodeMeta, parsePassing } from "./consul-query.ts";
import { type ReadContext, consulGet, consulRead, notFound, pathTail } from "./consul-read.ts";
import {
  type ConsulNode,
  catalogServiceShape,
  healthEntryShape,
  makeNode,
  nodeServiceShape,
  nodeShape,
  record,
  sampleEntry,
} from "./consul-shapes.ts";

export interface CatalogOptions {
  nodeName: string;
  /** The node's UUID, `await nodeIdFor(nodeName)` (computed before the routes, off the request path). */
  nodeId: string;
  /** This host's registered IP now, reported as the node's address (-ip eth0 can move it while running). */
  nodeAddress: () => string;
  /** Consul datacenter name reported by the embedded registry (default dc1). */
  datacenter?: string;
  /** Resolves after the first sync with Docker: reads wait for it instead of answering an empty catalog. */
  synced?: Promise<void>;
  /** Bound of that wait before a 503 (default 20 s). */
  syncWaitMs?: number;
  /** registrator's version, shown in /v1/agent/self. */
  version?: string;
}


const byId = (a: LocalEntry, b: LocalEntry) => (a.service.id < b.service.id ? -1 : a.service.id > b.service.id ? 1 : 0);

/**
 * The embedded registry's Consul API (parity.md, "The embedded registry speaks Consul"): catalog
 * and health reads with Consul's blocking queries and filters, the agent and status endpoints
 * clients call first, and Consul's empty 404 for any other /v1 path.
 */
export function catalogRoutes(catalog: LocalCatalog, o: CatalogOptions): (app: Hono) => void {
  const node: ConsulNode = makeNode({ id: o.nodeId, name: o.nodeName, address: o.nodeAddress, datacenter: o.datacenter ?? "dc1", index: catalog.startIndex });
  const ctx: ReadContext = { catalog, node, synced: o.synced ?? Promise.resolve(), syncWaitMs: o.syncWaitMs ?? 20_000 };
  const nodeMatches = (q: URLSearchParams) => matchesNodeMeta(node.meta, parseNodeMeta(q));

  /** Instances of `name` (every instance when undefined) passing ?tag=, ?node-meta= and ?filter=. */
  function instances(q: URLSearchParams, name: string | undefined, shape: (e: LocalEntry) => Record<string, unknown>, filter?: Filter) {
    const tags = q.getAll("tag");
    const metaOk = nodeMatches(q);
    return () =>
      [...(name === undefined ? catalog.services.values() : catalog.instancesOf(name))]
        .filter((e) => metaOk && matchesTags(e.service.tags, tags))
        .sort(byId)
        .map(shape)
        .filter((s) => !filter || filter(s));
  }

  const named = (c: Context, prefix: string) => {
    const name = pathTail(c, prefix);
    if (name === "") throw new QueryError(400, "Missing service name");
    return name;
  };

  return (app) => {
    consulGet(app, "/v1/catalog/services", (c) =>
      consulRead(ctx, c, (q) => {
        const filter = queryFilter(q, () => catalogServiceShape(sampleEntry(), node));
        const list = instances(q, undefined, (e) => catalogServiceShape(e, node), filter);
        return {
          index: () => catalog.servicesIndex,
          render: () => {
            const tags = new Map<string, Set<string>>();
            for (const s of list()) {
              const set = tags.get(s.ServiceName as string) ?? new Set<string>();
              for (const t of s.ServiceTags as string[]) set.add(t);
              tags.set(s.ServiceName as string, set);
            }
            return record([...tags].map(([n, set]) => [n, [...set].sort()]));
          },
        };
      }),
    );

    consulGet(app, "/v1/catalog/service/*", (c) =>
      consulRead(ctx, c, (q) => {
        const name = named(c, "/v1/catalog/service/");
        const filter = queryFilter(q, () => catalogServiceShape(sampleEntry(), node));
        return { index: () => catalog.nameIndex(name), render: instances(q, name, (e) => catalogServiceShape(e, node), filter) };
      }),
    );

    consulGet(app, "/v1/health/service/*", (c) =>
      consulRead(ctx, c, (q) => {
        const name = named(c, "/v1/health/service/");
        const passing = parsePassing(q);
        const filter = queryFilter(q, () => healthEntryShape(sampleEntry(), node));
        const list = instances(q, name, (e) => healthEntryShape(e, node), filter);
        const allPassing = (h: Record<string, unknown>) => (h.Checks as Array<{ Status: string }>).every((chk) => chk.Status === "passing");
        return { index: () => catalog.nameIndex(name), render: () => list().filter((h) => !passing || allPassing(h)) };
      }),
    );

    consulGet(app, "/v1/catalog/datacenters", (c) => consulRead(ctx, c, () => ({ needsSync: false, render: () => [node.datacenter] })));

    consulGet(app, "/v1/catalog/nodes", (c) =>
      consulRead(ctx, c, (q) => {
        const filter = queryFilter(q, () => nodeShape(node));
        const metaOk = nodeMatches(q);
        return {
          index: () => node.index,
          render: () => [nodeShape(node)].filter((n) => metaOk && (!filter || filter(n))),
        };
      }),
    );

    consulGet(app, "/v1/catalog/node/*", (c) =>
      consulRead(ctx, c, (q) => {
        const name = pathTail(c, "/v1/catalog/node/");
        if (name === "") throw new QueryError(400, "Missing node name");
        const filter = queryFilter(q, () => nodeServiceShape(sampleEntry()));
        return {
          index: () => catalog.servicesIndex,
          render: () => {
            if (name !== node.name) return null;
            const services = [...catalog.services.values()].sort(byId).map(nodeServiceShape).filter((s) => !filter || filter(s));
            return { Node: nodeShape(node), Services: record(services.map((s) => [s.ID as string, s])) };
          },
        };
      }),
    );

    healthRoutes(app, ctx);
    agentRoutes(app, ctx, { version: o.version ?? "" });

    app.all("/v1/*", notFound);
  };
}
