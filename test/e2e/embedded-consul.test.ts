// Issue 9 end to end on the real daemon: the Host guard against DNS rebinding (loopback bind,
// another bind, -http-allowed-hosts), and container-controlled names such as __proto__ served on
// every endpoint of the embedded registry.
import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { freePort, waitFor } from "../support/proc.ts";
import { e2eFile, uniqueName } from "./helpers.ts";

const file = e2eFile();

/** A non-loopback IPv4 address of this host. */
function ownAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new Error("This host has no non-loopback IPv4 address");
}

const ROUTES = ["/", "/health", "/ready", "/metrics", "/v1/services", "/v1/catalog/services", "/v1/agent/self", "/v1/no/such/path"];

describe("Host guard", () => {
  test("on the default loopback bind, Host evil.example gets 403 on every route; loopback names are answered", async () => {
    const port = await freePort();
    await file.registrator(["-http", `127.0.0.1:${port}`]);
    for (const path of ROUTES) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { Host: "evil.example" } });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      expect(await res.text()).toContain('Host "evil.example" is not allowed');
      const evilWithPort = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { Host: `evil.example:${port}` } });
      expect({ path, status: evilWithPort.status }).toEqual({ path, status: 403 });
      await evilWithPort.arrayBuffer();
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost", `[::1]:${port}`]) {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { Host: host } });
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
      await res.arrayBuffer();
    }
  }, 60_000);

  test("-http 0.0.0.0:<port> answers a request for the host's own address; -http-allowed-hosts narrows it", async () => {
    const ip = ownAddress();
    const open = await freePort();
    await file.registrator(["-http", `0.0.0.0:${open}`]);
    const res = await fetch(`http://${ip}:${open}/v1/agent/self`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { Config: { Datacenter: string } }).Config.Datacenter).toBe("dc1");
    expect((await fetch(`http://${ip}:${open}/health`, { headers: { Host: "scraper.example" } })).status).toBe(200);

    const narrowed = await freePort();
    await file.registrator(["-http", `0.0.0.0:${narrowed}`, "-http-allowed-hosts", `registrator.example,${ip}`]);
    expect((await fetch(`http://${ip}:${narrowed}/health`)).status).toBe(200);
    expect((await fetch(`http://${ip}:${narrowed}/health`, { headers: { Host: "registrator.example:1" } })).status).toBe(200);
    expect((await fetch(`http://${ip}:${narrowed}/health`, { headers: { Host: "evil.example" } })).status).toBe(403);
  }, 60_000);
});

describe("after a (re)start", () => {
  test("the first catalog read already holds the running containers, with an index above the last run's", async () => {
    const service = uniqueName("first");
    const hostPort = await freePort();
    await file.container(["-p", `${hostPort}:80`, "-e", `SERVICE_NAME=${service}`]);
    const port = await freePort();
    const args = ["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"];
    const read = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/catalog/service/${service}`);
      return { index: BigInt(res.headers.get("X-Consul-Index") ?? "0"), ports: ((await res.json()) as Array<{ ServicePort: number }>).map((e) => e.ServicePort) };
    };
    const first = await file.registrator(args);
    // No waiting for registration: the read itself waits for the first sync with Docker.
    const before = await read();
    expect(before.ports).toEqual([hostPort]);
    await first.stop();
    await file.registrator(args);
    const after = await read();
    expect(after.ports).toEqual([hostPort]);
    expect(after.index).toBeGreaterThan(before.index);
  }, 90_000);
});

describe("container-controlled names", () => {
  test("services named constructor, __proto__, toString, hasOwnProperty are served like any other", async () => {
    const port = await freePort();
    await file.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const api = `http://127.0.0.1:${port}`;
    const names = ["constructor", "__proto__", "toString", "hasOwnProperty"];
    const ports = new Map<string, number>();
    for (const n of names) {
      const p = await freePort();
      ports.set(n, p);
      await file.container(["-p", `${p}:80`, "-e", `SERVICE_NAME=${n}`, "-e", `SERVICE_TAGS=${n}`]);
    }
    const get = async (path: string) => {
      const res = await fetch(`${api}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      return res.json() as Promise<any>;
    };
    const services = await waitFor(
      async () => {
        const all = (await get("/v1/catalog/services")) as Record<string, string[]>;
        return names.every((n) => Object.hasOwn(all, n)) && all;
      },
      { timeout: 30_000, message: "the four services never all appeared in /v1/catalog/services" },
    );
    for (const n of names) {
      expect(services[n]).toEqual([n]);
      expect((await get(`/v1/catalog/service/${n}`)).map((e: { ServicePort: number }) => e.ServicePort)).toEqual([ports.get(n)]);
      expect((await get(`/v1/health/service/${n}?tag=${n}&passing`)).map((e: { Service: { Port: number } }) => e.Service.Port)).toEqual([ports.get(n)]);
      expect((await get(`/v1/catalog/service/${n}?filter=${encodeURIComponent(`ServiceName == "${n}"`)}`)).length).toBe(1);
    }
    const agent = await get("/v1/agent/services");
    const node = await get(`/v1/catalog/node/${(await get("/v1/agent/self")).Config.NodeName}`);
    for (const n of names) {
      expect(Object.values(agent).filter((s: any) => s.Service === n)).toHaveLength(1);
      expect(Object.values(node.Services).filter((s: any) => s.Service === n)).toHaveLength(1);
    }
  }, 90_000);
});
