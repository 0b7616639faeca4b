// Taking traffic end to end (issue 10) on the test dockerd, etcd v3 and the Consul agent emulator:
// Docker HEALTHCHECK, pause/unpause and stop signals act straight from the event. Each "within"
// of the issue is a condition reached before the next event (or while the container still runs);
// no elapsed time is asserted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { freePort, type Proc, waitFor } from "../support/proc.ts";
import { type ConsulE2e, checksOf, consulE2e } from "./consul-helpers.ts";
import { HOST, e2eFile, httpUrl, keyIs, uniqueName } from "./helpers.ts";

const file = e2eFile();
let c: ConsulE2e;
const names: string[] = [];

beforeAll(async () => {
  c = await consulE2e();
});

afterAll(async () => {
  await c?.cleanup();
  if (names.length) await file.e.dockerd.docker(["rm", "-f", ...names]).catch(() => "");
});

/** busybox's probe: healthy while /tmp/ok exists (prints "ready"); one failure makes it unhealthy. */
const HEALTH = ["--health-cmd", "test -f /tmp/ok && echo ready", "--health-interval", "1s", "--health-retries", "1"];
/** PID 1 that takes 4 s to exit on SIGTERM and ignores HUP. */
const SLOW_STOP = ["sh", "-c", "trap 'sleep 4; exit 0' TERM; trap '' HUP; while :; do sleep 0.1; done"];

async function dockerState(name: string): Promise<{ Running: boolean; Paused: boolean; Health?: { Status: string } }> {
  return (await file.e.dockerd.json(`/containers/${name}/json`)).State;
}
const healthIs = (name: string, status: string) =>
  waitFor(async () => (await dockerState(name)).Health?.Status === status, { timeout: 20_000, interval: 100, message: `${name} never became ${status} in Docker` });
const exec = (name: string, cmd: string) => file.e.dockerd.docker(["exec", name, "sh", "-c", cmd]);

/** How many Docker events of this action the registrator has taken in (its /metrics). */
async function eventsSeen(p: Proc, action: string): Promise<number> {
  const text = await (await fetch(`${await httpUrl(p)}/metrics`)).text();
  const m = new RegExp(`^registrator_docker_events_total\\{action="${action}"\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** docker run -d on the Consul image (EXPOSE 6379), -P; returns name, service ID and published port. */
async function consulContainer(args: string[], cmd: string[] = ["sleep", "3600"]) {
  const name = uniqueName("trc");
  names.push(name);
  const id = (await c.dockerd.docker(["run", "-d", "-P", "--name", name, ...args, c.redis, ...cmd])).trim();
  const inspect = await c.dockerd.json(`/containers/${name}/json`);
  const port = Number(inspect.NetworkSettings.Ports["6379/tcp"][0].HostPort);
  return { name, id, port, serviceId: `${HOST}:${name}:6379` };
}

describe("etcd v3 (auto acts as require)", () => {
  const prefix = `/traffic${process.pid}`;
  const key = (name: string) => `${prefix}/busybox/${HOST}:${name}:6379`;
  let reg: Proc;
  let keep: Proc;

  beforeAll(async () => {
    reg = await file.registrator(["-ip", "127.0.0.1", `etcd://${file.e.etcd.endpoint}${prefix}`]);
    keep = await file.registrator(["-ip", "127.0.0.1", "-deregister-on-stop=false", `etcd://${file.e.etcd.endpoint}${prefix}-keep`]);
  });

  test("HEALTHCHECK: absent while starting, present once healthy, gone once unhealthy; SERVICE_HEALTH=ignore registers while starting", async () => {
    const port = await freePort();
    const from = reg.mark();
    const name = await file.container(["-p", `${port}:6379`, ...HEALTH], undefined, "hc");
    const ignorePort = await freePort();
    const ignored = await file.container(["-p", `${ignorePort}:6379`, "-e", "SERVICE_HEALTH=ignore", ...HEALTH], undefined, "hci");
    const id12 = String((await file.e.dockerd.json(`/containers/${name}/json`)).Id).slice(0, 12);
    await reg.waitForLine(new RegExp(`out of traffic: ${id12} \\S+: (starting|unhealthy) \\(not registered\\)`), 10_000, from);
    expect(await file.e.etcd.get(key(name))).toBeUndefined();
    // ignore: registered although Docker has not called it healthy.
    await keyIs(file.e, key(ignored), `127.0.0.1:${ignorePort}`);
    expect((await dockerState(ignored)).Health?.Status).not.toBe("healthy");

    await exec(name, "touch /tmp/ok");
    await healthIs(name, "healthy");
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
    expect((await dockerState(name)).Health?.Status).toBe("healthy"); // reached before the next event

    await exec(name, "rm /tmp/ok");
    await healthIs(name, "unhealthy");
    await keyIs(file.e, key(name), undefined);
    expect((await dockerState(name)).Running).toBe(true);
    const status = (await (await fetch(`${await httpUrl(reg)}/v1/services`)).json()) as Array<Record<string, unknown>>;
    expect(status.find((s) => s.containerName === name)).toMatchObject({ registered: false, outOfTraffic: "unhealthy" });
  });

  test("pause removes, unpause restores (a container without HEALTHCHECK)", async () => {
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`], undefined, "pz");
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
    await file.e.dockerd.docker(["pause", name]);
    await keyIs(file.e, key(name), undefined);
    expect((await dockerState(name)).Paused).toBe(true);
    await file.e.dockerd.docker(["unpause", name]);
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
  });

  test("docker stop of a container that needs 4 s: gone while it still runs, HUP changes nothing, -deregister-on-stop=false keeps it until die", async () => {
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`], SLOW_STOP, "stop");
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
    const keptKey = key(name).replace(prefix, `${prefix}-keep`);
    await keyIs(file.e, keptKey, `127.0.0.1:${port}`);

    const kills = await eventsSeen(reg, "kill");
    await file.e.dockerd.docker(["kill", "-s", "HUP", name]);
    await waitFor(async () => (await eventsSeen(reg, "kill")) > kills, { message: "registrator never saw the HUP kill event" });
    await file.e.dockerd.docker(["inspect", name]); // still there
    expect(await file.e.etcd.get(key(name))).toBe(`127.0.0.1:${port}`);

    const keptKills = await eventsSeen(keep, "kill");
    const stopping = file.e.dockerd.docker(["stop", "-t", "30", name]);
    await keyIs(file.e, key(name), undefined);
    expect((await dockerState(name)).Running).toBe(true); // removed while it still runs (it needs 4 s)
    await waitFor(async () => (await eventsSeen(keep, "kill")) > keptKills, { message: "the -deregister-on-stop=false registrator never saw the kill" });
    expect((await dockerState(name)).Running).toBe(true);
    expect(await file.e.etcd.get(keptKey)).toBe(`127.0.0.1:${port}`);
    await stopping;
    await keyIs(file.e, keptKey, undefined);
    expect(await file.e.etcd.get(key(name))).toBeUndefined();
  }, 60_000);
});

describe("Consul agent emulator (the health is mirrored)", () => {
  let emu: ConsulEmulator;

  beforeAll(async () => {
    emu = await c.emulator();
    await c.registrator(["-ip", "127.0.0.1", `consul://127.0.0.1:${emu.port}`]);
  });

  const mirror = (sid: string) => checksOf(emu, sid)[`registrator:${sid}:docker-health`];
  const mirrorIs = (sid: string, status: string, output?: string) =>
    waitFor(() => mirror(sid)?.Status === status && (output === undefined || mirror(sid)?.Output === output), {
      timeout: 10_000,
      interval: 50,
      message: `the Docker health check of ${sid} never became ${status}${output === undefined ? "" : ` with output ${JSON.stringify(output)}`} (have ${JSON.stringify(mirror(sid))})`,
    });

  test("HEALTHCHECK: registered at once with a critical mirror, passing with Docker's probe output when healthy, critical when unhealthy", async () => {
    const hc = await consulContainer(HEALTH);
    await waitFor(() => emu.services()[hc.serviceId], { message: `${hc.serviceId} never registered` });
    expect(mirror(hc.serviceId)?.Status).toBe("critical");
    expect((await c.dockerd.json(`/containers/${hc.name}/json`)).State.Health.Status).not.toBe("healthy");

    await c.dockerd.docker(["exec", hc.name, "touch", "/tmp/ok"]);
    await mirrorIs(hc.serviceId, "passing", "ready");

    await c.dockerd.docker(["exec", hc.name, "rm", "/tmp/ok"]);
    await mirrorIs(hc.serviceId, "critical");
    expect(emu.services()[hc.serviceId]).toBeDefined();
    expect((await c.dockerd.json(`/containers/${hc.name}/json`)).State.Running).toBe(true);
  });

  test("pause turns the mirror critical, unpause passing again; a container without HEALTHCHECK has no mirror", async () => {
    const hc = await consulContainer(HEALTH);
    await c.dockerd.docker(["exec", hc.name, "touch", "/tmp/ok"]);
    await mirrorIs(hc.serviceId, "passing");
    await c.dockerd.docker(["pause", hc.name]);
    await mirrorIs(hc.serviceId, "critical");
    expect(String(mirror(hc.serviceId)?.Output)).toContain("paused");
    await c.dockerd.docker(["unpause", hc.name]);
    await mirrorIs(hc.serviceId, "passing");

    const plain = await consulContainer([]);
    await waitFor(() => emu.services()[plain.serviceId], { message: `${plain.serviceId} never registered` });
    expect(mirror(plain.serviceId)).toBeUndefined();
  });

  test("docker stop of a container that needs 4 s: maintenance on while it still runs, deregistered at die", async () => {
    const slow = await consulContainer([], SLOW_STOP);
    await waitFor(() => emu.services()[slow.serviceId], { message: `${slow.serviceId} never registered` });
    const stopping = c.dockerd.docker(["stop", "-t", "30", slow.name]);
    const maint = `_service_maintenance:${slow.serviceId}`;
    await waitFor(() => checksOf(emu, slow.serviceId)[maint], { timeout: 10_000, interval: 50, message: "maintenance never enabled" });
    expect(checksOf(emu, slow.serviceId)[maint]).toMatchObject({ Status: "critical" });
    expect((await c.dockerd.json(`/containers/${slow.name}/json`)).State.Running).toBe(true);
    await stopping;
    await waitFor(() => !emu.services()[slow.serviceId], { message: `${slow.serviceId} still registered after it exited` });
  }, 60_000);
});
