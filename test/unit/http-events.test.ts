// /v1/events limits on a real socket: the client cap (503), a client that never reads is dropped
// and its connection closed while a reading client keeps up, keep-alive comments; and the status
// page's assets with their headers. The app runs in-process on the Bun runtime's serve.
import { afterAll, describe, expect, test } from "bun:test";
import type { Bridge, ServiceStatus } from "../../src/bridge/bridge.ts";
import { createApp } from "../../src/http/app.ts";
import { EventStreams, type EventStreamOptions } from "../../src/http/events.ts";
import { Metrics } from "../../src/http/metrics.ts";
import { bunRuntime } from "../../src/runtime/bun.ts";
import type { Server } from "../../src/runtime/types.ts";
import { testService } from "../support/fixtures.ts";
import { spawn, waitFor, type Proc } from "../support/proc.ts";

const servers: Server[] = [];
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop("SIGKILL");
  for (const s of servers) await s.close();
});

const up: ServiceStatus = { service: testService({ id: "h:web:80", name: "web" }), containerId: "c1", registered: true };

/** The app with a stand-in bridge, served on a free loopback port. */
async function serve(o: EventStreamOptions = {}, statuses: ServiceStatus[] = [up]) {
  const bridge = { status: () => statuses, registered: () => statuses.filter((s) => s.registered).map((s) => s.service) } as unknown as Bridge;
  const events = new EventStreams(o);
  const app = createApp({
    bridge,
    metrics: new Metrics(),
    readiness: () => ({ docker: { ok: true, reason: "" }, registry: { ok: false, reason: "ping failed: 500" } }),
    changes: new Set(),
    events,
    about: () => ({ version: "9.9.9", hostname: "h", runtime: "bun", docker: { endpoint: "unix:///d.sock", apiVersion: "1.43" }, registry: { backend: "local" } }),
  });
  const server = await bunRuntime().serve((req, conn) => app.fetch(req, { conn }), { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return { events, url: `http://127.0.0.1:${server.port}` };
}

/** A reading client: accumulates the stream's text until cancelled. */
function reader(res: Response) {
  const r = res.body!.getReader();
  const state = { text: "", done: false, error: "" };
  void (async () => {
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        state.text += dec.decode(value, { stream: true });
        // Keep only the tail: the test looks for the latest events.
        if (state.text.length > 1 << 20) state.text = state.text.slice(-(1 << 16));
      }
    } catch (e) {
      state.error = String(e);
    }
    state.done = true;
  })();
  return { state, cancel: () => r.cancel().catch(() => {}) };
}

describe("/v1/events", () => {
  test("starts with a retry hint and a hello event, then carries changes with ids", async () => {
    const { events, url } = await serve();
    const res = await fetch(`${url}/v1/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const c = reader(res);
    await waitFor(() => c.state.text.includes("event: hello"), { message: "no hello event" });
    expect(c.state.text).toStartWith("retry: 2000\nevent: hello\ndata: {\"services\":1}\n\n");
    events.publish({ type: "deregistered", service: { name: "web", ip: "10.0.0.1", port: 80, protocol: "tcp", id: "h:web:80" } as never });
    await waitFor(() => c.state.text.includes("event: deregistered"), { message: "no deregistered event" });
    expect(c.state.text).toContain('event: deregistered\nid: 1\ndata: {"service":{"id":"h:web:80","name":"web","ip":"10.0.0.1","port":80}}\n\n');
    events.publish({ type: "traffic", service: up.service, outOfTraffic: "unhealthy", op: "health" });
    await waitFor(() => c.state.text.includes("event: traffic"), { message: "no traffic event" });
    expect(c.state.text).toContain('event: traffic\nid: 2\ndata: {"service":{"id":"h:web:80","name":"web","ip":"10.0.0.2","port":8080},"outOfTraffic":"unhealthy","op":"health"}\n\n');
    await c.cancel();
    await waitFor(() => events.size === 0, { message: "the cancelled client was never removed" });
  });

  test("over the client cap answers 503 with the reason; a freed slot is reused", async () => {
    const { events, url } = await serve({ maxClients: 2 });
    const a = reader(await fetch(`${url}/v1/events`));
    const b = reader(await fetch(`${url}/v1/events`));
    await waitFor(() => events.size === 2, { message: "two clients never connected" });
    const over = await fetch(`${url}/v1/events`);
    expect(over.status).toBe(503);
    expect(over.headers.get("retry-after")).toBe("5");
    expect(((await over.json()) as { error: string }).error).toBe("Too many event-stream clients: 2 are connected, the most allowed; retry later");
    expect(events.refused).toBe(1);
    await a.cancel();
    await waitFor(() => events.size === 1, { message: "the cancelled client was never removed" });
    const again = await fetch(`${url}/v1/events`);
    expect(again.status).toBe(200);
    const c = reader(again);
    await waitFor(() => c.state.text.includes("event: hello"));
    await b.cancel();
    await c.cancel();
  });

  test("a client that never reads is dropped and disconnected; a reading client keeps every event", async () => {
    const { events, url } = await serve({ maxBufferedBytes: 64 * 1024 });
    const port = new URL(url).port;
    // bash holds the socket and reads nothing until told to on stdin; then it reads to the end.
    const slow = spawn(
      ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}; printf 'GET /v1/events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3; echo sent; read -r _; n=$(cat <&3 | wc -c); echo "closed after $n bytes"`],
      { stdin: "pipe" },
    );
    procs.push(slow);
    await slow.waitForLine(/^sent$/);
    const fast = reader(await fetch(`${url}/v1/events`));
    await waitFor(() => events.size === 2, { message: "both clients never connected" });

    // Publish until the silent client's unsent data passes the bound (kernel buffers fill first).
    const pad = "x".repeat(4000);
    let n = 0;
    await waitFor(async () => {
      for (let i = 0; i < 2; i++) events.broadcast("tick", { n: ++n, pad });
      await Bun.sleep(1);
      return events.dropped === 1;
    }, { timeout: 60_000, interval: 0, message: "the client that never reads was never dropped" });
    expect(events.size).toBe(1);
    events.broadcast("last", { n: ++n });
    await waitFor(() => fast.state.text.includes(`event: last\nid: ${n}\n`), { timeout: 30_000, message: "the reading client missed the last event" });
    expect(fast.state.error).toBe("");
    expect(fast.state.done).toBe(false);

    // The dropped client's connection ends: reading now reaches the end of the stream.
    slow.write("read\n");
    await slow.waitForLine(/^closed after \d+ bytes$/, 30_000);
    await fast.cancel();
  });

  test("idle streams get keep-alive comments", async () => {
    const { url } = await serve({ keepAliveMs: 50 });
    const c = reader(await fetch(`${url}/v1/events`));
    await waitFor(() => c.state.text.includes(": keep-alive\n\n"), { message: "no keep-alive comment" });
    await c.cancel();
  });

  test("close() ends every stream", async () => {
    const { events, url } = await serve();
    const c = reader(await fetch(`${url}/v1/events`));
    await waitFor(() => events.size === 1);
    events.close();
    await waitFor(() => c.state.done, { message: "the stream never ended" });
    expect(events.size).toBe(0);
  });
});

describe("status page and /v1/status", () => {
  test("/v1/status reports Docker, the registry and the service counts", async () => {
    const failing: ServiceStatus = { service: testService({ id: "h:db:5432", name: "db" }), containerId: "c2", registered: false, lastError: "500 Internal Server Error" };
    const { url } = await serve({}, [up, failing]);
    expect(await (await fetch(`${url}/v1/status`)).json()).toEqual({
      version: "9.9.9",
      hostname: "h",
      runtime: "bun",
      docker: { connected: true, endpoint: "unix:///d.sock", apiVersion: "1.43" },
      registry: { backend: "local", ready: false, reason: "ping failed: 500" },
      services: { total: 2, registered: 1, failing: 1, outOfTraffic: 0 },
      events: { clients: 0, maxClients: 64 },
    });
  });

  test("GET / is self-contained HTML under a strict Content-Security-Policy; its assets are served", async () => {
    const { url } = await serve();
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'; script-src 'self'");
    const html = await res.text();
    // Every reference is relative to this origin: no external asset.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).toEqual(["data:,", "ui/status.css", "ui/status.js", "v1/status", "v1/services"]);
    expect(html).not.toMatch(/<script>|style=/);
    const js = await fetch(`${url}/ui/status.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const code = await js.text();
    expect(code).toContain('new EventSource("v1/events")');
    expect(code).not.toContain("innerHTML");
    expect((await fetch(`${url}/ui/status.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});
