#!/usr/bin/env bun
// Blocking-query fan-out of the embedded registry: N Consul-style watchers, each on its own
// service (GET /v1/health/service/<name>?index=&wait=), then M changes to one service at a time.
// With per-service indexes a change answers only that service's watcher; with one global index it
// would answer all N. The API runs in this process on the Bun runtime's server, with the watchers
// as plain fetch loops beside it.
//
//   bun bench/watchers.ts [--watchers 200] [--changes 200]
//
// Prints how many watcher answers each change caused and the time from the change to its
// watcher's answer (p50, p99). Asserts nothing.
import { Hono } from "hono";
import { catalogRoutes } from "../src/http/catalog.ts";
import { nodeIdFor } from "../src/http/consul-shapes.ts";
import { LocalCatalog, LocalRegistry } from "../src/registries/local.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import type { Service } from "../src/types.ts";

const argv = Bun.argv.slice(2);
const arg = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
// Bun's fetch keeps at most 256 requests in flight per process (BUN_CONFIG_MAX_HTTP_REQUESTS):
// more watchers than that would queue in the client, not in registrator.
const watchers = arg("--watchers", 200);
const changes = arg("--changes", 200);

const service = (i: number, port: number): Service => ({
  id: `bench:svc${i}:80`,
  name: `svc${i}`,
  ip: "127.0.0.1",
  port,
  protocol: "tcp",
  tags: ["bench"],
  attrs: {},
  checks: [],
  enableTagOverride: false,
  origin: { containerId: `c${i}`, containerName: `svc${i}`, exposedPort: 80, hostPort: String(port), hostIp: "" },
});

const registry = new LocalRegistry(new LocalCatalog());
for (let i = 0; i < watchers; i++) await registry.register(service(i, 10_000));
const app = new Hono();
catalogRoutes(registry.catalog, { nodeName: "bench", nodeId: await nodeIdFor("bench"), nodeAddress: () => "127.0.0.1" })(app);
const server = await bunRuntime().serve((req) => app.fetch(req), { hostname: "127.0.0.1", port: 0, idleTimeout: 60, longPoll: () => true });
const base = `http://127.0.0.1:${server.port}`;

let answers = 0;
const arrived = new Map<number, () => void>();
let running = true;
let ready = 0;
const loops = Array.from({ length: watchers }, async (_, i) => {
  let index = Number((await fetch(`${base}/v1/health/service/svc${i}`)).headers.get("X-Consul-Index"));
  ready++;
  while (running) {
    const res = await fetch(`${base}/v1/health/service/svc${i}?index=${index}&wait=10m`);
    await res.arrayBuffer();
    index = Number(res.headers.get("X-Consul-Index"));
    if (!running) break;
    answers++;
    arrived.get(i)?.();
  }
});
// Let every watcher have its index and send its blocking query.
while (ready < watchers) await Bun.sleep(10);
await Bun.sleep(300);

const latencies: number[] = [];
let port = 20_000;
for (let k = 0; k < changes; k++) {
  const i = Math.floor(Math.random() * watchers);
  const got = new Promise<void>((r) => arrived.set(i, r));
  const t0 = performance.now();
  await registry.register(service(i, port++));
  await got;
  latencies.push(performance.now() - t0);
  arrived.delete(i);
}
running = false;
const total = answers;
// Release the watchers: one more change each, then stop the server.
for (let i = 0; i < watchers; i++) await registry.register(service(i, 1));
await Promise.allSettled(loops);
await server.close();

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(2);
console.log(`watchers: ${watchers}, changes: ${changes}`);
console.log(`watcher answers per change: ${(total / changes).toFixed(2)} (a global index would give ${watchers})`);
console.log(`change → its watcher's answer: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
