// The agent and status endpoints Consul clients call before anything else: Prometheus and
// VictoriaMetrics read the datacenter from /v1/agent/self when none is configured, client
// libraries ping /v1/status/leader.

import type { Hono } from "hono";
import { queryFilter } from "./consul-filter.ts";
import { type ReadContext, consulGet, consulRead } from "./consul-read.ts";
import { CONSUL_API_VERSION, agentServiceShape, record, sampleEntry, serviceChecks } from "./consul-shapes.ts";

export function agentRoutes(app: Hono, ctx: ReadContext, o: { version: string }): void {
  const { catalog, node } = ctx;
  /** This node as a Serf member (agent/self's Member, agent/members). */
  const member = () => ({
    Name: node.name,
    Addr: node.address,
    Port: 8301,
    Tags: record([
      ["dc", node.datacenter],
      ["id", node.id],
      ["role", "consul"],
      ["build", CONSUL_API_VERSION],
    ]),
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  });
  const leader = () => `${node.address.includes(":") ? `[${node.address}]` : node.address}:8300`;

  consulGet(app, "/v1/agent/self", (c) =>
    consulRead(ctx, c, () => ({
      needsSync: false,
      render: () => ({
        Config: {
          Datacenter: node.datacenter,
          PrimaryDatacenter: node.datacenter,
          NodeName: node.name,
          NodeID: node.id,
          Revision: `registrator ${o.version}`.trim(),
          Server: true,
          Version: CONSUL_API_VERSION,
        },
        DebugConfig: {},
        Coord: null,
        Member: member(),
        Stats: {
          agent: { checks: String([...catalog.services.values()].filter((e) => e.service.mirror).length), services: String(catalog.services.size) },
        },
        Meta: record(node.meta),
      }),
    })),
  );

  consulGet(app, "/v1/agent/members", (c) => consulRead(ctx, c, () => ({ needsSync: false, render: () => [member()] })));
  consulGet(app, "/v1/status/leader", (c) => consulRead(ctx, c, () => ({ needsSync: false, render: leader })));
  consulGet(app, "/v1/status/peers", (c) => consulRead(ctx, c, () => ({ needsSync: false, render: () => [leader()] })));

  consulGet(app, "/v1/agent/services", (c) =>
    consulRead(ctx, c, (q) => {
      const filter = queryFilter(q, () => agentServiceShape(sampleEntry(), node));
      return {
        render: () =>
          record(
            [...catalog.services.values()]
              .map((e) => agentServiceShape(e, node))
              .filter((s) => !filter || filter(s))
              .map((s) => [s.ID as string, s]),
          ),
      };
    }),
  );

  consulGet(app, "/v1/agent/checks", (c) =>
    consulRead(ctx, c, (q) => {
      const sample = { ...sampleEntry(), service: { ...sampleEntry().service, mirror: { status: "passing" as const, output: "" } } };
      const filter = queryFilter(q, () => serviceChecks(sample, node, true)[0]);
      return {
        render: () =>
          record(
            [...catalog.services.values()]
              .flatMap((e) => serviceChecks(e, node, true))
              .filter((chk) => !filter || filter(chk))
              .map((chk) => [chk.CheckID as string, chk]),
          ),
      };
    }),
  );
}
