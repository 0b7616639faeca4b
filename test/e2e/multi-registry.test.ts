// Several registries at once (issue 16): `etcd://… local://` registers every container in both,
// and while etcd is away (stopped, or partitioned: connections that hang without an answer) the
// embedded catalog keeps following every change; etcd is exact again soon after it returns.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createServer, connect, type Server, type Socket } from "node:net";
import { type Etcd, etcdMissing, startEtcd } from "../support/etcd.ts";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eFile, HOST, httpUrl, keysUnder, rmf } from "./helpers.ts";

const file = e2eFile();
/** This file's own etcd: stopping it disturbs no other test. */
let etcd: Etcd;

beforeAll(async () => {
  if (!etcdMissing()) etcd = await startEtcd({ name: "multi" });
}, 60_000);
afterEach(async () => {
  // A test that failed during the outage must not leave the next one without etcd.
  if (etcd && !etcd.running) await etcd.restart();
});
afterAll(async () => {
  await etcd?.stop();
});

/** How long etcd stays away, and how soon after its return it must be exact (issue 16). */
const OUTAGE_MS = 20_000;
const CONVERGE_MS = 20_000;
/** The embedded catalog follows each change within this (a functional bound with room for a loaded machine, not a benchmark). */
const FOLLOW_MS = 1_000;

const serviceId = (name: string) => `${HOST}:${name}:6379`;

/**
 * A TCP proxy on loopback in front of `target`. While `hold()` is in force it accepts
 * connections and holds them, and every open one, without passing a byte either way (a network
 * partition, not a refusal); `heal()` closes the connections the partition saw, as a real one
 * breaks them, and forwards new ones again.
 */
class HoldingProxy {
  private server!: Server;
  private holding = false;
  private readonly open = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    this.open.add(client);
    client.on("close", () => this.open.delete(client));
    client.on("error", () => client.destroy());
    if (this.holding) {
      // Read and drop: the client's writes succeed, no answer ever comes.
      client.on("data", () => {});
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("data", (b) => {
      if (!this.holding) upstream.write(b);
    });
    upstream.on("data", (b) => {
      if (!this.holding) client.write(b);
    });
  }

  hold(): void {
    this.holding = true;
  }

  heal(): void {
    this.holding = false;
    for (const c of this.open) c.destroy();
  }

  async stop(): Promise<void> {
    for (const c of this.open) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The service IDs of ours (named `prefix…`) that the embedded catalog serves under "busybox". */
async function catalogIds(api: string, prefix: string): Promise<string[]> {
  const res = await fetch(`${api}/v1/catalog/service/busybox`);
  if (!res.ok) throw new Error(`catalog read: ${res.status}`);
  const entries = (await res.json()) as Array<{ ServiceID: string }>;
  return entries.map((e) => e.ServiceID).filter((id) => id.startsWith(`${HOST}:${prefix}`)).sort();
}

/** The etcd keys under `prefix` as service ID → address. */
async function etcdServices(prefix: string): Promise<Record<string, string>> {
  const kvs = await keysUnder({ ...file.e, etcd }, prefix);
  return Object.fromEntries(Object.entries(kvs).map(([k, v]) => [k.slice(`${prefix}/busybox/`.length), v]));
}

interface Scenario {
  /** What the outage is: etcd stopped, or held behind the proxy. */
  begin(): Promise<void>;
  end(): Promise<void>;
  /** The etcd URI registrator is given. */
  uri(prefix: string): string;
}

/**
 * Two containers registered in both; then, etcd away for OUTAGE_MS, containers start and go
 * (each change in the embedded catalog within FOLLOW_MS of the docker command returning); then
 * etcd holds exactly the containers left within CONVERGE_MS of its return.
 */
async function outage(s: Scenario, tag: string): Promise<void> {
  const prefix = `/multi${tag}${process.pid}`;
  const names = { n: 0 };
  const base = `m${tag}${process.pid}x`;
  const started = new Map<string, number>();
  const start = async () => {
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`], undefined, `${base}${++names.n}_`);
    started.set(name, port);
    return name;
  };
  const p: Proc = await file.registrator(["-ip", "127.0.0.1", s.uri(prefix), "local://"]);
  const api = await httpUrl(p);
  const want = (...ns: string[]) => Object.fromEntries(ns.map((n) => [serviceId(n), `127.0.0.1:${started.get(n)}`]));
  const inCatalog = async (expected: string[], what: string) =>
    waitFor(async () => JSON.stringify(await catalogIds(api, base)) === JSON.stringify(expected.map(serviceId).sort()), {
      timeout: FOLLOW_MS,
      interval: 20,
      message: `the embedded catalog did not follow (${what}) within ${FOLLOW_MS} ms`,
    });

  const stays = await start();
  const goes = await start();
  await waitFor(async () => JSON.stringify(await etcdServices(prefix)) === JSON.stringify(want(stays, goes)), { timeout: 15_000, message: "etcd never had both containers" });
  await waitFor(async () => (await catalogIds(api, base)).length === 2, { timeout: 15_000, message: "the embedded catalog never had both containers" });

  const mark = p.mark();
  await s.begin();
  const awayAt = Date.now();
  const comes = await start();
  await inCatalog([stays, goes, comes], "a container started");
  await rmf(file.e, goes);
  await inCatalog([stays, comes], "a container removed");
  const flaps = await start();
  await inCatalog([stays, comes, flaps], "a second container started");
  await file.e.dockerd.docker(["stop", "-t", "1", flaps]);
  await inCatalog([stays, comes], "a container stopped");
  const late = await start();
  await inCatalog([stays, comes, late], "a third container started");
  // etcd stays away for the whole outage (a deadline, not a settle-sleep: the outage is the test).
  await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - awayAt)));
  expect(p.running).toBe(true);
  await s.end();
  await waitFor(
    async () => {
      expect(await etcdServices(prefix)).toEqual(want(stays, comes, late));
      return true;
    },
    { timeout: CONVERGE_MS, interval: 100, message: `etcd was not exact within ${CONVERGE_MS} ms of its return` },
  );
  expect(await catalogIds(api, base)).toEqual([stays, comes, late].map(serviceId).sort());
  // The outage was real: etcd's writes failed meanwhile (logged before it came back), local's did not.
  const failures = p.lines.slice(mark).filter((l) => l.includes("will retry"));
  expect(failures.some((l) => l.includes("registry=etcd"))).toBe(true);
  expect(failures.filter((l) => l.includes("registry=local"))).toEqual([]);
  const ready = (await (await fetch(`${api}/ready`)).json()) as { registries?: Record<string, { ready: boolean }> };
  expect(Object.keys(ready.registries ?? {}).sort()).toEqual(["etcd", "local"]);
}

describe.skipIf(etcdMissing())("etcd:// and local:// at once", () => {
  test("every container registered in both, with per-registry state in /v1/services, /ready and /metrics", async () => {
    const prefix = `/multiboth${process.pid}`;
    const p = await file.registrator(["-ip", "127.0.0.1", `etcd://${etcd.endpoint}${prefix}`, "local://"]);
    const api = await httpUrl(p);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push(await file.container(["-p", `${await freePort()}:6379`], undefined, `mb${process.pid}x${i}_`));
    await waitFor(async () => Object.keys(await etcdServices(prefix)).length === 3, { timeout: 15_000, message: "etcd never had the 3 containers" });
    await waitFor(async () => (await catalogIds(api, `mb${process.pid}x`)).length === 3, { timeout: 15_000, message: "the catalog never had the 3 containers" });
    const services = (await (await fetch(`${api}/v1/services`)).json()) as Array<{ id: string; registered: boolean; registries?: Array<{ registry: string; registered: boolean }> }>;
    for (const n of names) {
      const s = services.find((x) => x.id === serviceId(n));
      expect(s?.registries).toEqual([
        { registry: "etcd", registered: true },
        { registry: "local", registered: true },
      ]);
    }
    const ready = await fetch(`${api}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, registries: { etcd: { ready: true }, local: { ready: true } } });
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).toMatch(/^registrator_registrations_total\{outcome="success",registry="etcd"\} \d+/m);
    expect(metrics).toMatch(/^registrator_registrations_total\{outcome="success",registry="local"\} \d+/m);
    expect(p.lines.some((l) => l.includes(`added:`) && l.includes(serviceId(names[0]!)) && l.includes("registry=etcd"))).toBe(true);
    await rmf(file.e, ...names);
    await waitFor(async () => Object.keys(await etcdServices(prefix)).length === 0, { timeout: 15_000, message: "etcd kept removed containers" });
    await waitFor(async () => (await catalogIds(api, `mb${process.pid}x`)).length === 0, { timeout: 15_000, message: "the catalog kept removed containers" });
  }, 90_000);

  test("etcd stopped for 20 s: the embedded catalog follows every change meanwhile, etcd is exact soon after", async () => {
    await outage(
      {
        begin: () => etcd.stop(),
        end: () => etcd.restart(),
        uri: (prefix) => `etcd://${etcd.endpoint}${prefix}`,
      },
      "s",
    );
  }, 120_000);

  test("etcd partitioned for 20 s (connections held open, never answered): the same", async () => {
    const [host, port] = etcd.endpoint.split(":");
    const proxy = new HoldingProxy({ host: host!, port: Number(port) });
    await proxy.start();
    try {
      await outage(
        {
          begin: async () => proxy.hold(),
          end: async () => proxy.heal(),
          uri: (prefix) => `etcd://127.0.0.1:${proxy.port}${prefix}`,
        },
        "p",
      );
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});
