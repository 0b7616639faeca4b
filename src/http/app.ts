import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Bridge, BridgeChange } from "../bridge/bridge.ts";
import { hostRefusal } from "./host-guard.ts";
import type { Metrics } from "./metrics.ts";

export interface Readiness {
  docker: { ok: boolean; reason: string };
  registry: { ok: boolean; reason: string };
}

export interface AppDeps {
  bridge: Bridge;
  metrics: Metrics;
  readiness: () => Readiness;
  /** Subscribers to registration changes (the SSE endpoint adds itself here). */
  changes: Set<(c: BridgeChange) => void>;
  /** The Host check against DNS rebinding (src/http/host-guard.ts); undefined answers any Host. */
  allowHost?: (host: string | null) => boolean;
  /** Extra routes (the embedded catalog for local://). */
  extend?: (app: Hono) => void;
}

/** registrator's own HTTP API: liveness, readiness, metrics and this host's services. */
export function createApp(d: AppDeps): Hono {
  const app = new Hono();
  const allowHost = d.allowHost;
  if (allowHost) {
    app.use("*", async (c, next) => {
      const host = c.req.header("host") ?? null;
      if (!allowHost(host)) return hostRefusal(host ?? "");
      await next();
    });
  }
  app.get("/health", (c) => c.json({ status: "alive" }));
  app.get("/ready", (c) => {
    const r = d.readiness();
    const ok = r.docker.ok && r.registry.ok;
    const reasons = [r.docker.ok ? "" : `docker: ${r.docker.reason}`, r.registry.ok ? "" : `registry: ${r.registry.reason}`].filter(Boolean);
    return c.json({ ready: ok, ...(ok ? {} : { reason: reasons.join("; ") }) }, ok ? 200 : 503);
  });
  app.get("/metrics", (c) => c.text(d.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }));
  app.get("/v1/services", (c) =>
    c.json(
      d.bridge.status().map((s) => ({
        id: s.service.id,
        name: s.service.name,
        ip: s.service.ip,
        port: s.service.port,
        protocol: s.service.protocol,
        tags: s.service.tags,
        containerId: s.containerId,
        containerName: s.service.origin.containerName,
        registered: s.registered,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      })),
    ),
  );
  app.get("/v1/events", (c) =>
    streamSSE(c, async (stream) => {
      let id = 0;
      const queue: BridgeChange[] = [];
      let wake: (() => void) | undefined;
      const listener = (ch: BridgeChange) => {
        queue.push(ch);
        wake?.();
      };
      d.changes.add(listener);
      stream.onAbort(() => {
        d.changes.delete(listener);
        wake?.();
      });
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ services: d.bridge.registered().length }) });
      while (!stream.aborted) {
        const ch = queue.shift();
        if (!ch) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        const { type, ...rest } = ch;
        const service = "service" in rest ? { id: rest.service.id, name: rest.service.name, ip: rest.service.ip, port: rest.service.port } : undefined;
        await stream.writeSSE({ event: type, id: String(++id), data: JSON.stringify({ ...rest, service }) });
      }
      d.changes.delete(listener);
    }),
  );
  d.extend?.(app);
  return app;
}
