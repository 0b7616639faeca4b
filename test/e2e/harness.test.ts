// The test harness itself, on the real engine: private dockerd, test image, published ports,
// restart, two daemons side by side, and teardown that leaves nothing behind.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dockerSkip, sharedDockerd, startDockerd, type Dockerd } from "../support/docker.ts";
import { exposing, INDEX_HTML } from "../support/image.ts";
import { freePort, Proc, run, spawn, tempDir, waitFor } from "../support/proc.ts";
import { REPO_ROOT, startRegistrator } from "../support/registrator.ts";

const skip = await dockerSkip();

async function httpd(d: Dockerd, publish: string[], image = d.image): Promise<string> {
  return d.docker(["run", "-d", ...publish, image, "httpd", "-f", "-p", "80", "-h", "/www"]);
}

async function get(port: number): Promise<string> {
  return waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).text(), { timeout: 10_000, message: `GET 127.0.0.1:${port}` });
}

async function bridgeExists(name: string): Promise<boolean> {
  return (await run(["ip", "-br", "link", "show"])).split("\n").some((l) => l.split(/\s+/)[0] === name);
}

/** Running (not gone, not a zombie waiting for a parent that does not reap). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("proc helpers", () => {
  test("freePort gives a bindable loopback port", async () => {
    const port = await freePort();
    const server = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    expect(server.port).toBe(port);
    server.stop(true);
  });

  test("waitFor polls until truthy and reports the last error at the deadline", async () => {
    let n = 0;
    expect(await waitFor(() => ++n >= 3 && n, { interval: 1 })).toBe(3);
    const failing = waitFor(() => { throw new Error("still down"); }, { timeout: 100, message: "Service up" });
    await expect(failing).rejects.toThrow(/Service up \(after 100 ms\): still down/);
  });

  test("Proc captures lines, waits for them, and escalates to SIGKILL", async () => {
    const script = 'process.on("SIGTERM", () => console.log("ignoring TERM")); console.log("ready"); console.error("on stderr"); setInterval(() => {}, 1000);';
    const p = spawn([process.execPath, "-e", script]);
    await p.waitForLine(/^ready$/, 10_000);
    await p.waitForLine(/on stderr/, 10_000);
    expect(p.stdout).toContain("ready");
    expect(p.stderr).toContain("on stderr");
    const code = await p.stop("SIGTERM", 500);
    expect(p.lines).toContain("ignoring TERM");
    expect(code).not.toBe(0);
    expect(alive(p.pid)).toBe(false);
    await expect(p.waitForLine(/never/, 1000)).rejects.toThrow(/exited/);
  });

  test("startRegistrator spawns a script with DOCKER_HOST and args", async () => {
    const dir = tempDir();
    const entry = join(dir, "fake-cli.ts");
    writeFileSync(entry, 'console.log(`host=${process.env.DOCKER_HOST} args=${process.argv.slice(2).join(",")}`);');
    const p = await startRegistrator(["-internal", "consul://127.0.0.1:1"], { dockerHost: "unix:///x.sock", entry, ready: /^host=/ });
    expect(await p.exited).toBe(0);
    expect(p.stdout).toEqual(["host=unix:///x.sock args=-internal,consul://127.0.0.1:1"]);
  });
});

describe.skipIf(!!skip)("docker harness", () => {
  test("published port of busybox httpd is reachable on 127.0.0.1 and inspectable", async () => {
    const d = await sharedDockerd();
    const port = await freePort();
    const id = await httpd(d, ["-p", `${port}:80`]);
    expect(await get(port)).toBe(INDEX_HTML);
    const info = await d.json(`/v1.41/containers/${id}/json`);
    expect(info.State.Running).toBe(true);
    expect(info.NetworkSettings.Ports["80/tcp"]).toContainEqual({ HostIp: "0.0.0.0", HostPort: String(port) });
    if (d.bridge) expect(info.NetworkSettings.Networks.bridge.Gateway).toBe(d.bridge.gateway);
    await d.docker(["rm", "-f", id]);
    expect((await d.api(`/v1.41/containers/${id}/json`)).status).toBe(404);
  });

  test("exposing() images publish with -P", async () => {
    const d = await sharedDockerd();
    const image = await exposing(d, "regtest/web", [80, "53/udp"]);
    expect(await exposing(d, "regtest/web", [80, "53/udp"])).toBe(image);
    const id = await httpd(d, ["-P"], image);
    const ports = (await d.json(`/v1.41/containers/${id}/json`)).NetworkSettings.Ports;
    expect(Object.keys(ports).sort()).toEqual(["53/udp", "80/tcp"]);
    expect(await get(Number(ports["80/tcp"][0].HostPort))).toBe(INDEX_HTML);
    await d.docker(["rm", "-f", id]);
  });

  test("restart stops the containers and brings the daemon back", async () => {
    const d = await sharedDockerd();
    if (!d.owned) return;
    const id = await d.docker(["run", "-d", d.image, "sleep", "1000"]);
    await d.restart();
    expect((await d.api("/_ping")).status).toBe(200);
    expect((await d.json(`/v1.41/containers/${id}/json`)).State.Running).toBe(false);
    const port = await freePort();
    const web = await httpd(d, ["-p", `127.0.0.1:${port}:80`]);
    expect(await get(port)).toBe(INDEX_HTML);
    await d.docker(["rm", "-f", id, web]);
  });

  test("two private daemons coexist and stop() removes everything of one", async () => {
    const a = await sharedDockerd();
    const b = await startDockerd();
    const dir = dirname(b.socket);
    try {
      expect(b.socket).not.toBe(a.socket);
      if (a.bridge) expect(b.bridge!.subnet).not.toBe(a.bridge.subnet);
      const [pa, pb] = [await freePort(), await freePort()];
      const ia = await httpd(a, ["-p", `${pa}:80`]);
      const ib = await httpd(b, ["-p", `${pb}:80`]);
      expect(await get(pa)).toBe(INDEX_HTML);
      expect(await get(pb)).toBe(INDEX_HTML);
      expect((await b.docker(["ps", "-q", "--no-trunc"])).split("\n")).toEqual([ib]);
      expect((await a.docker(["ps", "-q", "--no-trunc"])).split("\n")).not.toContain(ib);
      await a.docker(["rm", "-f", ia]);
    } finally {
      await b.stop();
    }
    expect(existsSync(dir)).toBe(false);
    expect(await bridgeExists(b.bridge!.name)).toBe(false);
    await expect(b.api("/_ping")).rejects.toThrow();
  });
});

// A child `bun test` run that uses sharedDockerd() from two files; reports what it started.
function childRun(dir: string, hang: boolean): Proc {
  const fixture = (name: string, body: string) =>
    writeFileSync(join(dir, name), `import { test } from "bun:test";
import { sharedDockerd } from ${JSON.stringify(join(REPO_ROOT, "test/support/docker.ts"))};
import { readFileSync } from "node:fs";
test("uses the shared daemon", async () => {
  const d = await sharedDockerd();
  await d.docker(["run", "-d", d.image, "sleep", "1000"]);
  const pid = Number(readFileSync(d.socket.replace(/docker\\.sock$/, "docker.pid"), "utf8"));
  console.log("INFO " + JSON.stringify({ socket: d.socket, bridge: d.bridge.name, pid }));
  ${body}
});
`);
  fixture("a.test.ts", "");
  fixture("b.test.ts", hang ? "await new Promise(() => {});" : "");
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.REGISTRATOR_TEST_DOCKER_HOST;
  delete env.REGISTRATOR_TEST_USE_DOCKER_HOST;
  return spawn([process.execPath, "test", "--timeout", "600000", "--preload", join(REPO_ROOT, "test/support/proc.ts"), "./a.test.ts", "./b.test.ts"], { cwd: dir, env });
}

type Info = { socket: string; bridge: string; pid: number };
const infos = (p: Proc): Info[] => p.lines.filter((l) => l.startsWith("INFO ")).map((l) => JSON.parse(l.slice(5)));

describe.skipIf(!!skip || process.env.REGISTRATOR_TEST_DOCKER_HOST !== undefined)("shared dockerd teardown", () => {
  test("one daemon serves all files of a run and is gone when bun test exits", async () => {
    const p = childRun(tempDir(), false);
    const code = await p.exited;
    expect(code, p.tail(40)).toBe(0);
    const seen = infos(p);
    expect(seen.length).toBe(2);
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
    const { socket, bridge, pid } = seen[0]!;
    expect(existsSync(dirname(socket))).toBe(false);
    expect(await bridgeExists(bridge)).toBe(false);
    expect(alive(pid)).toBe(false);
  });

  test("a killed test process still leaves nothing behind (watchdog)", async () => {
    const p = childRun(tempDir(), true);
    await p.waitForLine(/^INFO /, 60_000);
    await p.waitForLine(/^INFO /, 60_000, p.lines.findIndex((l) => l.startsWith("INFO ")) + 1);
    const { socket, bridge, pid } = infos(p)[0]!;
    await p.stop("SIGKILL");
    await waitFor(() => !existsSync(dirname(socket)), { timeout: 60_000, message: "dockerd dir removed" });
    expect(await bridgeExists(bridge)).toBe(false);
    expect(alive(pid)).toBe(false);
  });
});
