// Issue 5 end to end: the embedded registry's Consul-shaped catalog with blocking queries, the
// HTTP API (ready, metrics, services, events), and shutdown with and without -deregister-on-exit.
import { describe, expect, test } from "bun:test";
import parsePrometheus from "parse-prometheus-text-format";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { registratorCommand, startRegistrator } from "../support/registrator.ts";
import { spawn } from "../support/proc.ts";
import { e2eFile, HOST, keyIs, keysUnder, run, uniqueName } from "./helpers.ts";

const spawnRegistrator = (args: string[]) => spawn(registratorCommand(args), { env: { ...process.env, DOCKER_HOST: file.e.dockerd.host } });

// What a test started ends with it: no registrator of an earlier test writes during a later one.
const file = e2eFile();

async function start(args: string[]): Promise<{ p: Proc; api: string }> {
  const port = await freePort();
  const p = await file.registrator(["-http", `127.0.0.1:${port}`, ...args]);
  return { p, api: `http://127.0.0.1:${port}` };
}

async function container(extra: string[] = []) {
  const name = uniqueName();
  const port = await freePort();
  file.track(name);
  const id = await run(file.e, ["--name", name, "-p", `${port}:80`, ...extra]);
  return { name, port, id };
}

describe("embedded registry (local://)", () => {
  test("catalog lists a container started afterwards; a blocking query returns when it stops", async () => {
    const { api } = await start(["-ip", "127.0.0.1"]);
    const svc = uniqueName("web");
    const c = await container(["-e", `SERVICE_NAME=${svc}`, "-e", "SERVICE_TAGS=blue,v1"]);
    const entries = await waitFor(async () => {
      const r = await fetch(`${api}/v1/catalog/service/${svc}`);
      const body = (await r.json()) as Array<Record<string, unknown>>;
      return body.length === 1 ? body : false;
    }, { message: "service never appeared in the embedded catalog" });
    expect(entries[0]).toMatchObject({ ServiceID: `${HOST}:${c.name}:80`, ServiceName: svc, ServiceAddress: "127.0.0.1", ServicePort: c.port, ServiceTags: ["blue", "v1"] });
    const services = (await (await fetch(`${api}/v1/catalog/services`)).json()) as Record<string, string[]>;
    expect(services[svc]).toEqual(["blue", "v1"]);
    expect((await (await fetch(`${api}/v1/catalog/service/${svc}?tag=green`)).json()) as unknown[]).toEqual([]);

    const first = await fetch(`${api}/v1/catalog/service/${svc}`);
    const index = Number(first.headers.get("X-Consul-Index"));
    expect(index).toBeGreaterThan(0);
    await first.text();
    // A 10-minute wait: an answer before the deadline below can only be the stop waking it.
    const blocked = fetch(`${api}/v1/catalog/service/${svc}?index=${index}&wait=10m`);
    // The query must still be waiting while nothing changes.
    const early = await Promise.race([blocked.then(() => "returned"), new Promise((r) => setTimeout(() => r("waiting"), 300))]);
    expect(early).toBe("waiting");
    await file.e.dockerd.docker(["stop", "-t", "0", c.name]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const res = await Promise.race([
      blocked,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the blocking query did not wake on docker stop")), 25_000))),
    ]).finally(() => clearTimeout(timer));
    expect(Number(res.headers.get("X-Consul-Index"))).toBeGreaterThan(index);
    expect(await res.json()).toEqual([]);
    const health = await fetch(`${api}/v1/health/service/${svc}`);
    expect(await health.json()).toEqual([]);
  });

  test("bad blocking-query values get Consul's answers", async () => {
    const { api } = await start([]);
    const bad = await fetch(`${api}/v1/catalog/services?index=1&wait=forever`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe("Invalid wait time");
    const badIndex = await fetch(`${api}/v1/catalog/services?index=abc`);
    expect(badIndex.status).toBe(400);
    expect(await badIndex.text()).toBe("Invalid index");
  });
});

describe("HTTP API", () => {
  test("/metrics parses as Prometheus text and counts what happened; /v1/services shows this host's services", async () => {
    const prefix = `/metrics${process.pid}`;
    const { api } = await start(["-ip", "127.0.0.1", `etcd://${file.e.etcd.endpoint}${prefix}`]);
    const c = await container();
    await keyIs(file.e, `${prefix}/busybox/${HOST}:${c.name}:80`, `127.0.0.1:${c.port}`);
    const text = await (await fetch(`${api}/metrics`)).text();
    const families = parsePrometheus(text);
    const family = (n: string) => families.find((f) => f.name === n);
    expect(family("registrator_docker_events_total")?.metrics.find((m) => m.labels?.action === "start")?.value).toBeDefined();
    expect(Number(family("registrator_registrations_total")?.metrics.find((m) => m.labels?.outcome === "success")?.value)).toBeGreaterThanOrEqual(1);
    expect(family("registrator_registry_request_duration_seconds")?.type).toBe("HISTOGRAM");
    // This parser folds a histogram's series into one and drops their labels, so read those raw.
    // One registry: the same names, with the registry label added (its backend's name).
    expect(text).toMatch(/^registrator_registry_request_duration_seconds_count\{backend="etcd",operation="register",registry="etcd"\} [1-9]/m);
    expect(text).toMatch(/^registrator_registrations_total\{outcome="success",registry="etcd"\} [1-9]/m);
    expect(Number(family("registrator_services_registered")?.metrics[0]?.value)).toBeGreaterThanOrEqual(1);
    expect(family("registrator_services_registered")?.metrics[0]?.labels).toEqual({ registry: "etcd" });
    expect(family("registrator_queue_depth")).toBeDefined();
    expect(family("registrator_docker_reconnects_total")).toBeDefined();

    const services = (await (await fetch(`${api}/v1/services`)).json()) as Array<Record<string, unknown>>;
    expect(services.find((s) => s.id === `${HOST}:${c.name}:80`)).toMatchObject({ registered: true, containerId: c.id, port: c.port });
    expect((await fetch(`${api}/health`)).status).toBe(200);
  });

  test("/ready turns 503 with the reason when etcd stops, and 200 when it returns", async () => {
    const { api } = await start([`etcd://${file.e.etcd.endpoint}/ready${process.pid}`]);
    await waitFor(async () => (await fetch(`${api}/ready`)).status === 200, { message: "never ready" });
    await file.e.etcd.stop();
    try {
      const body = await waitFor(async () => {
        const r = await fetch(`${api}/ready`);
        return r.status === 503 ? ((await r.json()) as { reason: string }) : false;
      }, { timeout: 15_000, message: "/ready never turned 503" });
      expect(body.reason).toContain("registry");
    } finally {
      await file.e.etcd.restart();
    }
    await waitFor(async () => (await fetch(`${api}/ready`)).status === 200, { timeout: 15_000, message: "/ready never came back" });
  });

  test("/v1/events streams registration changes as Server-Sent Events", async () => {
    const { api } = await start(["-ip", "127.0.0.1"]);
    const res = await fetch(`${api}/v1/events`);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const c = await container();
    let text = "";
    await waitFor(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return text.includes("event: registered") && text.includes(c.name);
    }, { message: "no registered event" });
    await reader.cancel();
  });
});

describe("-http address", () => {
  test("an explicit -http that cannot be bound exits 2 naming it", async () => {
    const port = await freePort();
    const taken = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    try {
      const p = spawnRegistrator(["-http", `127.0.0.1:${port}`]);
      expect(await p.exited).toBe(2);
      expect(p.stderr.join("\n")).toContain(`-http 127.0.0.1:${port}`);
    } finally {
      taken.stop(true);
    }
  });

  test("when the default address is taken, registrator warns and runs without the API", async () => {
    let taken: { stop(closeActive?: boolean): void } | undefined;
    try {
      taken = Bun.listen({ hostname: "127.0.0.1", port: 8485, socket: { data() {} } });
    } catch {
      // Someone else holds 8485 already: that is the situation under test.
    }
    try {
      const p = await startRegistrator([], { dockerHost: file.e.dockerd.host, ready: /HTTP API disabled: cannot listen on 127\.0\.0\.1:8485/ });
      file.trackProc(p);
      await p.waitForLine(/Connected to Docker/, 20_000);
      expect(p.running).toBe(true);
    } finally {
      taken?.stop(true);
    }
  });
});

describe("shutdown", () => {
  test("SIGTERM with -deregister-on-exit empties the registry of this host's services and exits 0 within 5 s", async () => {
    const prefix = `/bye${process.pid}`;
    const { p } = await start(["-ip", "127.0.0.1", "-deregister-on-exit", "-ttl", "30", "-ttl-refresh", "10", `etcd://${file.e.etcd.endpoint}${prefix}`]);
    const c = await container();
    await keyIs(file.e, `${prefix}/busybox/${HOST}:${c.name}:80`, `127.0.0.1:${c.port}`);
    // p.stop kills with SIGKILL after 5 s, so exit code 0 means it exited by itself within them.
    const code = await p.stop("SIGTERM", 5000);
    expect(code).toBe(0);
    expect(await keysUnder(file.e, prefix)).toEqual({});
  });

  test("SIGTERM without it leaves the registry unchanged", async () => {
    const prefix = `/stay${process.pid}`;
    const { p } = await start(["-ip", "127.0.0.1", `etcd://${file.e.etcd.endpoint}${prefix}`]);
    const c = await container();
    const key = `${prefix}/busybox/${HOST}:${c.name}:80`;
    await keyIs(file.e, key, `127.0.0.1:${c.port}`);
    const before = await keysUnder(file.e, prefix);
    expect(await p.stop("SIGTERM", 5000)).toBe(0);
    expect(await keysUnder(file.e, prefix)).toEqual(before);
    expect(before[key]).toBe(`127.0.0.1:${c.port}`);
  });
});
