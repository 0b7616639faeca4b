import { Hono } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import type { Bridge } from "../bridge/bridge.ts";
import type { BridgeChange } from "../bridge/types.ts";
import { hostRefusal } from "./host-guard.ts";
import type { Connection } from "../runtime/types.ts";
import { EventStreams } from "./events.ts";
import type { Metrics } from "./metrics.ts";
import { pageRoutes } from "./page.ts";
import { readyJson, serviceJson, statusJson, type About, type Readiness } from "./status.ts";

/** What the server passes to the app with each request (hono's env). */
export interface HttpEnv {
  conn?: Connection;
}

export interface AppDeps {
  bridge: Bridge;
  metrics: Metrics;
  readiness: () => Readiness;
  /** Subscribers to registration changes (the SSE endpoint adds itself here). */
  changes: Set<(c: BridgeChange) => void>;
  /** The Host check against DNS rebinding (src/http/host-guard.ts); undefined answers any Host. */
  allowHost?: (host: string | null) => boolean;
  /** The `/v1/events` clients and their limits (default: a new set with default limits). */
  events?: EventStreams;
  /** Versions, endpoints and backend shown by `/v1/status` and the status page. */
  about?: () => About;
  /** Extra routes (the embedded catalog for local://). */
  extend?: (app: Hono) => void;
}

/** registrator's own HTTP API: liveness, readiness, metrics, this host's services, the status page. */
export function createApp(d: AppDeps): Hono {
  // TrieRouter, not hono's default SmartRouter: the latter compiles every route into one regular
  // expression on the first request, about 3 MiB of resident memory for a few requests a second.
  const app = new Hono({ router: new TrieRouter() });
  const allowHost = d.allowHost;
  if (allowHost) {
    app.use("*", async (c, next) => {
      const host = c.req.header("host") ?? null;
      if (!allowHost(host)) return hostRefusal(host ?? "");
      await next();
    });
  }
  const events = d.events ?? new EventStreams();
  d.changes.add((ch) => events.publish(ch));
  app.get("/health", (c) => c.json({ status: "alive" }));
  app.get("/ready", (c) => {
    const body = readyJson(d.readiness());
    return c.json(body, body.ready ? 200 : 503);
  });
  app.get("/metrics", (c) => c.text(d.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }));
  app.get("/v1/services", (c) => c.json(d.bridge.status().map(serviceJson)));
  app.get("/v1/status", (c) =>
    c.json(statusJson(d.about?.(), d.readiness(), d.bridge.status(), { clients: events.size, maxClients: events.maxClients })),
  );
  app.get("/v1/events", (c) =>
    events.open({ event: "hello", data: { services: d.bridge.registered().length } }, { signal: c.req.raw.signal, conn: (c.env as HttpEnv | undefined)?.conn }),
  );
  pageRoutes(app);
  d.extend?.(app);
  return app;
}
