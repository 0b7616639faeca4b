// Check reads of the embedded registry: /v1/health/checks/<service>, /v1/health/node/<node>,
// /v1/health/state/<state>. Checks are the node's serfHealth (always passing) and each service's
// Docker health mirror (src/http/consul-shapes.ts serviceChecks).

import type { Hono } from "hono";
import type { LocalEntry } from "../registries/local.ts";
import { queryFilter } from "./consul-filter.ts";
import { QueryError, matchesNodeMeta, parseNodeMeta } from "./consul-query.ts";
import { type ReadContext, consulGet, consulRead, pathTail } from "./consul-read.ts";
import { serfHealthShape, serviceChecks } from "./consul-shapes.ts";

const STATES = new Set(["any", "passing", "warning", "critical"]);

const byId = (a: LocalEntry, b: LocalEntry) => (a.service.id < b.service.id ? -1 : a.service.id > b.service.id ? 1 : 0);

export function healthRoutes(app: Hono, ctx: ReadContext): void {
  const { catalog, node } = ctx;
  const sample = () => serfHealthShape(node);
  const serviceChecksOf = (name?: string) =>
    [...(name === undefined ? catalog.services.values() : catalog.instancesOf(name))]
      .sort(byId)
      .flatMap((e) => serviceChecks(e, node));

  consulGet(app, "/v1/health/checks/*", (c) =>
    consulRead(ctx, c, (q) => {
      const name = pathTail(c, "/v1/health/checks/");
      if (name === "") throw new QueryError(400, "Missing service name");
      const filter = queryFilter(q, sample);
      const metaOk = matchesNodeMeta(node.meta, parseNodeMeta(q));
      return {
        index: () => catalog.nameIndex(name),
        render: () => (metaOk ? serviceChecksOf(name) : []).filter((chk) => !filter || filter(chk)),
      };
    }),
  );

  consulGet(app, "/v1/health/node/*", (c) =>
    consulRead(ctx, c, (q) => {
      const name = pathTail(c, "/v1/health/node/");
      if (name === "") throw new QueryError(400, "Missing node name");
      const filter = queryFilter(q, sample);
      return {
        index: () => catalog.index,
        render: () => (name === node.name ? [serfHealthShape(node), ...serviceChecksOf()] : []).filter((chk) => !filter || filter(chk)),
      };
    }),
  );

  consulGet(app, "/v1/health/state/*", (c) =>
    consulRead(ctx, c, (q) => {
      const state = pathTail(c, "/v1/health/state/");
      if (state === "") throw new QueryError(400, "Missing check state");
      if (!STATES.has(state)) throw new QueryError(400, "Bad check state");
      const filter = queryFilter(q, sample);
      const metaOk = matchesNodeMeta(node.meta, parseNodeMeta(q));
      return {
        index: () => catalog.index,
        render: () =>
          (metaOk ? [serfHealthShape(node), ...serviceChecksOf()] : [])
            .filter((chk) => state === "any" || chk.Status === state)
            .filter((chk) => !filter || filter(chk)),
      };
    }),
  );
}
