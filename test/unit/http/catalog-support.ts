// The embedded registry's Consul API on an in-process Hono app, and the service its tests register:
// shared by embedded-consul.test.ts and consul-golden.test.ts so both ask the same node.
import { Hono } from "hono";
import { type CatalogOptions, catalogRoutes } from "../../../src/http/catalog.ts";
import { nodeIdFor } from "../../../src/http/consul-shapes.ts";
import type { LocalCatalog } from "../../../src/registries/local.ts";
import type { Service } from "../../../src/types.ts";

export const NODE_NAME = "host1";
export const NODE_ADDRESS = "10.0.0.5";
export const NODE_ID = await nodeIdFor(NODE_NAME);

/** A service at the node's address, port 8080 for container port 80, no tags, attributes or checks. */
export function svc(id: string, name: string, over: Partial<Service> = {}): Service {
  return {
    id,
    name,
    ip: NODE_ADDRESS,
    port: 8080,
    protocol: "tcp",
    tags: [],
    attrs: {},
    checks: [],
    enableTagOverride: false,
    origin: { containerId: id, containerName: id, exposedPort: 80, hostPort: "8080", hostIp: "" },
    ...over,
  };
}

/** catalogRoutes of `catalog` as node host1 at 10.0.0.5, on a new app; `o` overrides the options. */
export function catalogApp(catalog: LocalCatalog, o: Partial<CatalogOptions> = {}): Hono {
  const app = new Hono();
  catalogRoutes(catalog, { nodeName: NODE_NAME, nodeId: NODE_ID, nodeAddress: () => NODE_ADDRESS, version: "test", ...o })(app);
  return app;
}
