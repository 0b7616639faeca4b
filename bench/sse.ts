#!/usr/bin/env bun
// SSE memory: does /v1/events keep the daemon's memory bounded with many clients and one that
// never reads? The HTTP API runs in this process (createApp on the Bun runtime's serve) over a real
// Bridge and LocalRegistry, fed by a stand-in Docker whose containers start and stop in a loop, so
// every event is a real register/deregister. The readers run in a child process (their memory is
// not ours); the silent client is bash holding a socket it never reads.
//
//   bun bench/sse.ts [--clients 200] [--events 200000] [--unbounded]
//
// --unbounded sets no limit on a client's unsent data (what the old handler did), to compare.
// Prints RSS before, with the clients connected, peak during the churn and after; whether the
// silent client was dropped; and whether every reader got the last event. Asserts nothing.
import { Bridge, type BridgeChange, type DockerSource } from "../src/bridge/bridge.ts";
import type { ContainerInspect } from "../src/docker/schema.ts";
import { createApp } from "../src/http/app.ts";
import { EventStreams } from "../src/http/events.ts";
import { Metrics } from "../src/http/metrics.ts";
import { LocalRegistry } from "../src/registries/local.ts";
import { bunRuntime } from "../src/runtime/bun.ts";
import type { Logger, Service } from "../src/types.ts";
import { spawn, waitFor, type Proc } from "../test/support/proc.ts";

const argv = Bun.argv.slice(2);
const arg = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);

// ---- reader mode: the child process that holds the reading clients ----------------------------

if (argv[0] === "--readers") {
  const [url, n] = [argv[1]!, Number(argv[2])];
  let last = 0;
  const got = new Array<number>(n).fill(0);
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`Reader ${i}: ${res.status} ${await res.text()}`);
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let tail = "";
      if (i === n - 1) console.log("connected");
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        tail = (tail + dec.decode(value, { stream: true })).slice(-200);
        const m = tail.match(/event: done\nid: \d+\ndata: (\d+)/);
        if (m) {
          got[i] = Number(m[1]);
          if (got.every((g) => g > 0) && got[0] !== last) {
            last = got[0]!;
            console.log(`all got done ${last}`);
          }
        }
      }
    }),
  );
  process.exit(0);
}

// ---- the server side ----------------------------------------------------------------------

const clients = arg("--clients", 200);
const totalEvents = arg("--events", 200_000);
const unbounded = argv.includes("--unbounded");

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const rss = () => process.memoryUsage().rss;

class ChurningDocker implements DockerSource {
  running = new Set<string>();
  async list() {
    return [...this.running].map((Id) => ({ Id }));
  }
  async inspect(id: string): Promise<ContainerInspect | null> {
    const port = 10_000 + Number(id.slice(1));
    return {
      Id: id,
      Name: `/${id}`,
      Config: { Image: "app" },
      State: { Running: this.running.has(id), ExitCode: 0 },
      NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: String(port) }] } },
    } as ContainerInspect;
  }
}

const derive = (c: ContainerInspect) => {
  const name = c.Name.slice(1);
  const port = Number(c.NetworkSettings!.Ports!["80/tcp"]![0]!.HostPort);
  const service: Service = {
    id: `bench:${name}:80`, name: "web", ip: "127.0.0.1", port, protocol: "tcp", tags: ["bench"], attrs: {}, checks: [],
    enableTagOverride: false,
    origin: { containerId: c.Id, containerName: name, exposedPort: 80, hostPort: String(port), hostIp: "0.0.0.0" },
  };
  return { services: [service], ignored: [], warnings: [] };
};

// Logs go nowhere: a memory logger would itself grow with every event.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const docker = new ChurningDocker();
const listeners = new Set<(c: BridgeChange) => void>();
const bridge = new Bridge({
  docker, registry: new LocalRegistry(), derive, hostname: "bench", deregister: "always", cleanup: false, log: quiet,
  onChange: (c) => listeners.forEach((l) => l(c)),
});
const events = new EventStreams({ maxClients: clients + 1, ...(unbounded ? { maxBufferedBytes: Number.MAX_SAFE_INTEGER } : {}) });
let changes = 0;
listeners.add(() => changes++);
const app = createApp({
  bridge, metrics: new Metrics(), changes: listeners, events,
  readiness: () => ({ docker: { ok: true, reason: "" }, registry: { ok: true, reason: "" } }),
});
const server = await bunRuntime().serve((req, conn) => app.fetch(req, { conn }), { hostname: "127.0.0.1", port: 0 });
const url = `http://127.0.0.1:${server.port}/v1/events`;
Bun.gc(true);
const rssStart = rss();

const procs: Proc[] = [];
try {
  const silent = spawn(["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${server.port}; printf 'GET /v1/events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3; echo sent; sleep 3600`]);
  procs.push(silent);
  await silent.waitForLine(/^sent$/);
  const readers = spawn([process.execPath, import.meta.path, "--readers", url, String(clients)]);
  procs.push(readers);
  await readers.waitForLine(/^connected$/, 60_000);
  await waitFor(() => events.size === clients + 1, { timeout: 60_000, message: `${clients + 1} clients never connected (have ${events.size})` });
  Bun.gc(true);
  const rssConnected = rss();

  // Churn: each round starts 100 containers, then stops them (200 register/deregister events).
  let peak = rssConnected;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
  const t0 = performance.now();
  let round = 0;
  const ids = Array.from({ length: 100 }, (_, i) => `c${i}`);
  while (changes < totalEvents) {
    round++;
    for (const id of ids) docker.running.add(id);
    await Promise.all(ids.map((id) => bridge.sync(id)));
    await bridge.flush();
    for (const id of ids) docker.running.delete(id);
    await Promise.all(ids.map((id) => bridge.sync(id)));
    await bridge.flush();
    await Bun.sleep(0);
  }
  const seconds = (performance.now() - t0) / 1000;
  events.broadcast("done", round);
  const allGot = await readers.waitForLine(new RegExp(`^all got done ${round}$`), 120_000).then(() => true, () => false);
  clearInterval(sampler);
  peak = Math.max(peak, rss());
  Bun.gc(true);
  const rssAfter = rss();

  const rows: Array<[string, string]> = [
    ["mode", unbounded ? "unbounded (no per-client limit)" : `bounded (${events.maxBufferedBytes / 1024} KiB per client)`],
    ["clients", `${clients} reading + 1 never reading`],
    ["events", `${changes} (${Math.round(changes / seconds)}/s over ${seconds.toFixed(1)} s)`],
    ["RSS before clients", mib(rssStart)],
    ["RSS with clients", mib(rssConnected)],
    ["RSS peak during churn", mib(peak)],
    ["RSS after (GC)", mib(rssAfter)],
    ["silent client dropped", events.dropped === 1 ? "yes" : `no (dropped: ${events.dropped})`],
    ["clients still connected", String(events.size)],
    ["every reader got the last event", allGot ? "yes" : "no"],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
} finally {
  for (const p of procs) await p.stop("SIGKILL");
  events.close();
  await bridge.close({ deregisterAll: false, timeoutMs: 100 });
  await server.close();
}
