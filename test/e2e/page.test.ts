// Issue 9: the status page at GET /, in a real browser (Debian's headless Chromium over the
// DevTools protocol). Against the private dockerd and registrator with the embedded registry: a
// container's row appears live (no reload) and goes when it stops; a screenshot is written under
// the test's temp dir. With a stand-in API: every state renders, container strings stay text.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Bridge, BridgeChange, ServiceStatus } from "../../src/bridge/bridge.ts";
import { createApp } from "../../src/http/app.ts";
import { Metrics } from "../../src/http/metrics.ts";
import { bunRuntime } from "../../src/runtime/bun.ts";
import type { Server } from "../../src/runtime/types.ts";
import { Browser, browserSkip, type Page } from "../support/browser.ts";
import { testService } from "../support/fixtures.ts";
import { freePort, spawn, tempDir, waitFor } from "../support/proc.ts";
import { e2eFile, HOST, uniqueName } from "./helpers.ts";

const skip = await browserSkip();
const f = e2eFile();
const dir = tempDir("regtest-page-");
let browser: Browser | undefined;
const servers: Server[] = [];

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
});

async function openPage(url: string, height = 520): Promise<Page> {
  browser ??= await Browser.launch();
  const page = await browser.newPage();
  await page.setViewport(1100, height);
  await page.goto(url);
  await waitFor(() => page.evaluate(`document.getElementById("live").textContent === "live"`), {
    timeout: 20_000,
    message: `the page never went live; console: ${page.console.join(" | ")}`,
  });
  return page;
}

interface Row {
  state: string;
  cells: string[];
}

/** The table row of service id, as text, or null. */
const rowOf = (page: Page, id: string) =>
  page.evaluate<Row | null>(`(() => {
    const tr = [...document.querySelectorAll("#rows tr")].find((r) => r.dataset.id === ${JSON.stringify(id)});
    return tr ? { state: tr.dataset.state, cells: [...tr.cells].map((c) => c.textContent) } : null;
  })()`);

const eventsSeen = (page: Page) => page.evaluate<number>(`Number(document.body.dataset.events || 0)`);

describe.skipIf(!!skip)("status page in headless Chromium", () => {
  test("a started container's row appears without a reload and goes when it stops; screenshot written", async () => {
    const port = await freePort();
    await f.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const page = await openPage(`http://127.0.0.1:${port}/`, 340);

    const docker = await page.evaluate<string>(`document.getElementById("docker").textContent`);
    expect(docker).toContain("connected");
    expect(docker).toMatch(/API version\s*1\.\d+/);
    expect(await page.evaluate<string>(`document.getElementById("registry").textContent`)).toContain("local");

    // A marker in this document: a reload would lose it.
    await page.evaluate(`window.__sameDocument = true`);
    const navigations = page.navigations;
    const before = await eventsSeen(page);

    const svc = uniqueName("web");
    const hostPort = await freePort();
    const name = await f.container(["-p", `${hostPort}:80`, "-e", `SERVICE_NAME=${svc}`]);
    const id = `${HOST}:${name}:80`;
    const row = await waitFor(() => rowOf(page, id), { timeout: 30_000, message: `row ${id} never appeared` });
    expect(row).toEqual({ state: "registered", cells: [svc, id, `127.0.0.1:${hostPort}`, name, "registered"] });
    expect(await eventsSeen(page)).toBeGreaterThan(before);
    expect(await page.evaluate(`window.__sameDocument === true`)).toBe(true);
    expect(page.navigations).toBe(navigations);

    const png = await page.screenshot();
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const shot = join(dir, "status-page.png");
    writeFileSync(shot, png);
    if (process.env.REGISTRATOR_TEST_SCREENSHOT) writeFileSync(process.env.REGISTRATOR_TEST_SCREENSHOT, png);

    await f.e.dockerd.docker(["stop", "-t", "0", name]);
    await waitFor(async () => (await rowOf(page, id)) === null, { timeout: 30_000, message: `row ${id} never went` });
    expect(await page.evaluate(`window.__sameDocument === true`)).toBe(true);
    expect(page.navigations).toBe(navigations);
    expect(page.console.filter((l) => l.startsWith("exception"))).toEqual([]);
  });

  test("when registrator restarts, the page reconnects by itself and shows a container started meanwhile", async () => {
    const port = await freePort();
    const first = await f.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const page = await openPage(`http://127.0.0.1:${port}/`);
    await page.evaluate(`window.__sameDocument = true`);
    const navigations = page.navigations;
    expect(await first.stop("SIGTERM")).toBe(0);
    await waitFor(() => page.evaluate(`document.getElementById("live").textContent !== "live"`), { timeout: 20_000, message: "the page never noticed the stream dropped" });

    const hostPort = await freePort();
    const name = await f.container(["-p", `${hostPort}:80`]);
    await f.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const id = `${HOST}:${name}:80`;
    await waitFor(() => page.evaluate(`document.getElementById("live").textContent === "live"`), { timeout: 30_000, message: "the page never reconnected" });
    expect(await waitFor(() => rowOf(page, id), { timeout: 30_000, message: `row ${id} never appeared after the restart` })).toMatchObject({ state: "registered" });
    expect(await page.evaluate(`window.__sameDocument === true`)).toBe(true);
    expect(page.navigations).toBe(navigations);
  });

  test("failing and out-of-traffic rows show their reason; container strings are never parsed as HTML", async () => {
    const evil = `<img src=x onerror="window.__pwned=1">`;
    const statuses: ServiceStatus[] = [
      { service: testService({ id: "h:api:80", name: "api" }), containerId: "c1", registered: true },
      { service: testService({ id: "h:db:5432", name: "db", origin: { containerName: "db1" } }), containerId: "c2", registered: false, lastError: `Cannot register "db" in consul: 500 ${evil}` },
      { service: testService({ id: "h:web:8080", name: evil }), containerId: "c3", registered: true, outOfTraffic: "unhealthy" },
      // Several registries: each one's state under the row's own.
      {
        service: testService({ id: "h:two:81", name: "two", origin: { containerName: "two1" } }),
        containerId: "c4",
        registered: false,
        lastError: "request timed out",
        registries: [
          { registry: "etcd", registered: false, lastError: "request timed out" },
          { registry: "local", registered: true },
        ],
      },
    ];
    const bridge = { status: () => statuses, registered: () => [] } as unknown as Bridge;
    const changes = new Set<(c: BridgeChange) => void>();
    const app = createApp({
      bridge,
      metrics: new Metrics(),
      readiness: () => ({ docker: { ok: false, reason: "Cannot reach Docker at unix:///nowhere.sock: ENOENT" }, registry: { ok: true, reason: "" } }),
      changes,
    });
    const server = await bunRuntime().serve((req, conn) => app.fetch(req, { conn }), { hostname: "127.0.0.1", port: 0 });
    servers.push(server);
    const page = await openPage(`http://127.0.0.1:${server.port}/`);
    await waitFor(() => rowOf(page, "h:web:8080"), { message: "rows never rendered" });

    expect(await rowOf(page, "h:api:80")).toMatchObject({ state: "registered" });
    expect(await rowOf(page, "h:db:5432")).toMatchObject({ state: "failing", cells: ["db", "h:db:5432", "10.0.0.2:8080", "db1", `failingCannot register "db" in consul: 500 ${evil}`] });
    expect(await rowOf(page, "h:web:8080")).toMatchObject({ state: "not in traffic", cells: [evil, "h:web:8080", "10.0.0.2:8080", "web1", "not in trafficunhealthy"] });
    expect((await rowOf(page, "h:two:81"))?.cells.at(-1)).toBe("failingrequest timed outetcd failing request timed outlocal registered");
    expect(await page.evaluate(`[...document.querySelectorAll("#rows tr[data-id='h:two:81'] .per-registry")].map((e) => e.dataset.registry).join()`)).toBe("etcd,local");
    expect(await page.evaluate(`document.querySelectorAll("#rows img").length`)).toBe(0);
    expect(await page.evaluate(`window.__pwned === undefined`)).toBe(true);
    const docker = await page.evaluate<string>(`document.getElementById("docker").textContent`);
    expect(docker).toContain("disconnected");
    expect(docker).toContain("Cannot reach Docker at unix:///nowhere.sock: ENOENT");
    const states = await page.screenshot();
    writeFileSync(join(dir, "status-page-states.png"), states);
    if (process.env.REGISTRATOR_TEST_SCREENSHOT) writeFileSync(process.env.REGISTRATOR_TEST_SCREENSHOT.replace(/\.png$/, "-states.png"), states);

    // A traffic change (here: api paused) reaches the page as a "traffic" event, which it counts.
    const seen = await eventsSeen(page);
    statuses[0] = { ...statuses[0]!, outOfTraffic: "paused" };
    for (const l of changes) l({ type: "traffic", service: statuses[0].service, outOfTraffic: "paused" });
    await waitFor(async () => (await eventsSeen(page)) > seen && (await rowOf(page, "h:api:80"))?.state === "not in traffic", {
      timeout: 20_000,
      message: "the traffic event never reached the page",
    });
    expect((await rowOf(page, "h:api:80"))?.cells.at(-1)).toBe("not in trafficpaused");
  });
});

describe("/v1/events on the daemon", () => {
  test("the 65th client gets 503 with the reason; /metrics counts the clients and the refusal", async () => {
    const port = await freePort();
    await f.registrator(["-http", `127.0.0.1:${port}`]);
    const api = `http://127.0.0.1:${port}`;
    const open = await Promise.all(Array.from({ length: 64 }, () => fetch(`${api}/v1/events`)));
    try {
      expect(open.map((r) => r.status)).toEqual(Array(64).fill(200));
      const over = await fetch(`${api}/v1/events`);
      expect(over.status).toBe(503);
      expect(((await over.json()) as { error: string }).error).toContain("Too many event-stream clients: 64 are connected");
      const metrics = await (await fetch(`${api}/metrics`)).text();
      expect(metrics).toMatch(/^registrator_event_stream_clients 64$/m);
      expect(metrics).toMatch(/^registrator_event_stream_rejected_total\{reason="over-limit"\} 1$/m);
    } finally {
      await Promise.all(open.map((r) => r.body?.cancel().catch(() => {})));
    }
    await waitFor(async () => ((await (await fetch(`${api}/v1/status`)).json()) as { events: { clients: number } }).events.clients === 0, {
      message: "closed clients were never let go",
    });
  });

  test("SIGTERM with a reading and a silent event-stream client: the streams end and registrator exits 0", async () => {
    const port = await freePort();
    const p = await f.registrator(["-http", `127.0.0.1:${port}`, "-ip", "127.0.0.1"]);
    const silent = spawn(["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}; printf 'GET /v1/events HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\n\\r\\n' >&3; echo sent; sleep 600`]);
    try {
      await silent.waitForLine(/^sent$/);
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`);
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { events: { clients: number } }).events.clients === 2, {
        message: "two event-stream clients never showed in /v1/status",
      });
      const ended = (async () => {
        for (;;) if ((await reader.read()).done) return true;
      })().catch(() => true);
      expect(await p.stop("SIGTERM", 10_000)).toBe(0);
      expect(await ended).toBe(true);
    } finally {
      await silent.stop("SIGKILL");
    }
  });
});
