import type { Context, Hono } from "hono";
import type { LocalCatalog } from "../registries/local.ts";
import { parseGoDuration } from "../services/duration.ts";
import type { Service } from "../types.ts";

/** Consul's ceiling for a blocking query's wait, and its default. */
const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_WAIT_MS = 5 * 60_000;

export interface CatalogOptions {
  nodeName: string;
  /** Address reported as the node's (Consul's Node.Address). */
  nodeAddress?: string;
}

/**
 * The embedded registry's read API, in Consul's shapes, so consul-template-style watchers work
 * unchanged on one host: catalog services, catalog service, health service, with blocking queries.
 */
export function catalogRoutes(catalog: LocalCatalog, o: CatalogOptions): (app: Hono) => void {
  const node = { ID: "", Node: o.nodeName, Address: o.nodeAddress ?? "127.0.0.1", Datacenter: "local" };

  /** Handles ?index=&wait=; returns an error Response for bad values, else waits as asked. */
  async function block(c: Context): Promise<Response | undefined> {
    const index = c.req.query("index");
    const wait = c.req.query("wait");
    if (index === undefined) return undefined;
    if (!/^\d+$/.test(index)) return c.text("Invalid index", 400);
    let ms = DEFAULT_WAIT_MS;
    if (wait !== undefined) {
      const ns = parseGoDuration(wait);
      if (ns === undefined) return c.text("Invalid wait time", 400);
      ms = Math.min(ns / 1e6, MAX_WAIT_MS);
    }
    await catalog.waitFor(Number(index), ms, c.req.raw.signal);
    return undefined;
  }

  const headers = (c: Context) => {
    c.header("X-Consul-Index", String(catalog.index));
    c.header("X-Consul-KnownLeader", "true");
    c.header("X-Consul-LastContact", "0");
  };

  const byName = (name: string, tag?: string) =>
    [...catalog.services.values()]
      .filter((s) => s.name === name && (tag === undefined || s.tags.includes(tag)))
      .sort((a, b) => a.id.localeCompare(b.id));

  const catalogEntry = (s: Service) => ({
    ...node,
    TaggedAddresses: { lan: node.Address, wan: node.Address },
    NodeMeta: {},
    ServiceKind: "",
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: s.tags,
    ServiceAddress: s.ip,
    ServicePort: s.port,
    ServiceMeta: s.attrs,
    ServiceWeights: { Passing: 1, Warning: 1 },
    ServiceEnableTagOverride: s.enableTagOverride,
    CreateIndex: catalog.index,
    ModifyIndex: catalog.index,
  });

  return (app) => {
    app.get("/v1/catalog/services", async (c) => {
      const bad = await block(c);
      if (bad) return bad;
      const out: Record<string, string[]> = {};
      for (const s of catalog.services.values()) out[s.name] = [...new Set([...(out[s.name] ?? []), ...s.tags])];
      headers(c);
      return c.json(out);
    });
    app.get("/v1/catalog/service/:name", async (c) => {
      const bad = await block(c);
      if (bad) return bad;
      headers(c);
      return c.json(byName(c.req.param("name"), c.req.query("tag")).map(catalogEntry));
    });
    app.get("/v1/health/service/:name", async (c) => {
      const bad = await block(c);
      if (bad) return bad;
      headers(c);
      return c.json(
        byName(c.req.param("name"), c.req.query("tag")).map((s) => ({
          Node: { ...node, TaggedAddresses: { lan: node.Address, wan: node.Address }, Meta: {} },
          Service: {
            ID: s.id,
            Service: s.name,
            Tags: s.tags,
            Address: s.ip,
            Port: s.port,
            Meta: s.attrs,
            EnableTagOverride: s.enableTagOverride,
            Weights: { Passing: 1, Warning: 1 },
          },
          Checks: [
            {
              Node: o.nodeName,
              CheckID: "serfHealth",
              Name: "Serf Health Status",
              Status: "passing",
              ServiceID: "",
              ServiceName: "",
            },
          ],
        })),
      );
    });
  };
}
