// Taking traffic in the bridge (issue 10): Docker health, pause and stop signals act straight
// from the event, the inspect confirms (and brings the probe output); resync reads the state.
import { describe, expect, test } from "bun:test";
import type { ContainerEvent } from "../../src/bridge/events.ts";
import { isStopSignal } from "../../src/bridge/events.ts";
import { DrainingRegistry, type FakeContainer, PlainRegistry, setup, until } from "./bridge-support.ts";

const ev = (id: string, action: string, attributes: Record<string, string> = {}): ContainerEvent => ({ id, action, attributes });
const SID = "host:a:80";

function run(s: ReturnType<typeof setup>, c: Partial<FakeContainer> = {}) {
  s.docker.containers.set("a", { running: true, exitCode: 0, port: 80, ...c });
}
const stored = (s: ReturnType<typeof setup>) => s.registry.catalog.services.get(SID)?.service;
const status = (s: ReturnType<typeof setup>) => s.bridge.status().find((x) => x.service.id === SID);

describe("Docker health on a backend that mirrors it (-health auto)", () => {
  test("registered at once with a critical mirror while starting; passing when healthy, with the probe output", async () => {
    const s = setup();
    run(s, { health: { status: "starting" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(stored(s)?.mirror?.status).toBe("critical");
    expect(status(s)).toMatchObject({ registered: true, outOfTraffic: "starting" });

    run(s, { health: { status: "healthy", output: "ok from probe" } });
    s.docker.inspectGate.close();
    const confirmed = s.bridge.event(ev("a", "health_status: healthy"));
    await until(() => stored(s)?.mirror?.status === "passing"); // before the inspect returns
    expect(s.docker.inspectGate.waiting).toBe(1);
    s.docker.inspectGate.open();
    await confirmed;
    await s.bridge.flush();
    expect(stored(s)?.mirror).toEqual({ status: "passing", output: "ok from probe" });
    expect(status(s)?.outOfTraffic).toBeUndefined();
    expect(s.registry.calls.filter((c) => c.startsWith("register"))).toEqual([`register ${SID}`]); // the rest went through setHealth

    run(s, { health: { status: "unhealthy", output: "connection refused" } });
    await s.bridge.event(ev("a", "health_status: unhealthy"));
    await s.bridge.flush();
    expect(stored(s)?.mirror).toEqual({ status: "critical", output: "connection refused" });
    expect(status(s)).toMatchObject({ registered: true, outOfTraffic: "unhealthy" });
    expect(s.log.lines.some((l) => l.msg === `out of traffic: a ${SID}: unhealthy (registered with a critical Docker health check)`)).toBe(true);
  });

  test("a setHealth answered 404 (the registry lost the service) registers it again", async () => {
    const s = setup();
    run(s, { health: { status: "starting" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    s.registry.catalog.clear();
    run(s, { health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "health_status: healthy"));
    await s.bridge.flush();
    expect(stored(s)?.mirror).toEqual({ status: "passing", output: "ok" });
  });

  test("refreshHealth sets every mirror again (keeps the TTL check alive)", async () => {
    const s = setup();
    run(s, { health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    let sets = 0;
    const orig = s.registry.setHealth.bind(s.registry);
    s.registry.setHealth = async (svc) => {
      sets++;
      return orig(svc);
    };
    await s.bridge.refreshHealth();
    expect(sets).toBe(1);
  });

  test("SERVICE_HEALTH=ignore registers while starting, without a mirror; no HEALTHCHECK is unaffected", async () => {
    const s = setup();
    run(s, { health: { status: "starting" }, labels: { SERVICE_HEALTH: "ignore" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(stored(s)?.mirror).toBeUndefined();
    expect(status(s)?.outOfTraffic).toBeUndefined();
    const t = setup();
    t.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await t.bridge.event(ev("a", "start"));
    await t.bridge.flush();
    expect(stored(t)?.mirror).toBeUndefined();
  });
});

describe("Docker health elsewhere (auto acts as require), and require", () => {
  test("absent while starting, present when healthy, gone when unhealthy — each straight from the event", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s, { health: { status: "starting" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(status(s)).toMatchObject({ registered: false, outOfTraffic: "starting" });
    s.docker.inspectGate.close();
    run(s, { health: { status: "healthy" } });
    const p1 = s.bridge.event(ev("a", "health_status: healthy"));
    await until(() => s.ids().length === 1);
    run(s, { health: { status: "unhealthy" } });
    const p2 = s.bridge.event(ev("a", "health_status: unhealthy"));
    await until(() => s.ids().length === 0);
    expect(s.docker.inspectGate.waiting).toBe(1);
    s.docker.inspectGate.open();
    await Promise.all([p1, p2]);
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(status(s)?.outOfTraffic).toBe("unhealthy");
  });

  test("require on a mirroring backend: registered only while healthy", async () => {
    const s = setup();
    run(s, { health: { status: "starting" }, labels: { SERVICE_HEALTH: "require" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    run(s, { health: { status: "healthy" }, labels: { SERVICE_HEALTH: "require" } });
    await s.bridge.event(ev("a", "health_status: healthy"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
    expect(stored(s)?.mirror).toBeUndefined();
  });

  test("a resync reads the health from the inspect (no event needed)", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s, { health: { status: "unhealthy" } });
    await s.bridge.syncAll();
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    run(s, { health: { status: "healthy" } });
    await s.bridge.syncAll();
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
  });
});

describe("pause", () => {
  test("removes at once where health cannot be mirrored; unpause restores", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    s.docker.inspectGate.close();
    run(s, { paused: true });
    const p = s.bridge.event(ev("a", "pause"));
    await until(() => s.ids().length === 0);
    s.docker.inspectGate.open();
    await p;
    expect(status(s)?.outOfTraffic).toBe("paused");
    run(s, { paused: false });
    await s.bridge.event(ev("a", "unpause"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
  });

  test("turns the mirror critical where it is mirrored", async () => {
    const s = setup();
    run(s, { health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    run(s, { paused: true, health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "pause"));
    await s.bridge.flush();
    expect(stored(s)?.mirror?.status).toBe("critical");
    expect(stored(s)?.mirror?.output).toContain("paused");
    run(s, { health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "unpause"));
    await s.bridge.flush();
    expect(stored(s)?.mirror).toEqual({ status: "passing", output: "ok" });
  });

  test("-health ignore: pause changes nothing", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s, { labels: { SERVICE_HEALTH: "ignore" } });
    await s.bridge.event(ev("a", "start"));
    run(s, { paused: true, labels: { SERVICE_HEALTH: "ignore" } });
    await s.bridge.event(ev("a", "pause"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
  });
});

describe("stop signals (-deregister-on-stop)", () => {
  test("Docker's numbers and Podman's names are stop signals; HUP and USR1 are not", () => {
    for (const sig of ["15", "2", "3", "9", "SIGTERM", "sigkill", "TERM", "QUIT"]) expect(isStopSignal(sig)).toBe(true);
    for (const sig of ["1", "10", "SIGHUP", "USR1", "", undefined]) expect(isStopSignal(sig)).toBe(false);
  });

  test("kill 15 deregisters at once while it runs; die deregisters; HUP changes nothing", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    await s.bridge.event(ev("a", "kill", { signal: "1" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
    // It runs on until its die or the grace period, each of which inspects: no inspect now.
    const inspects = s.docker.inspects;
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(s.docker.inspects).toBe(inspects);
    expect(status(s)?.outOfTraffic).toBe("stopping");
    run(s, { running: false, exitCode: 0 });
    await s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await s.bridge.flush();
    expect(s.bridge.status()).toEqual([]);
  });

  test("on Consul-like backends: maintenance on at the signal, deregistered at die", async () => {
    const registry = new DrainingRegistry();
    const s = setup({ registry });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    await s.bridge.event(ev("a", "kill", { signal: "SIGTERM" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
    expect(registry.maint.has(SID)).toBe(true);
    expect(status(s)).toMatchObject({ outOfTraffic: "stopping" });
    run(s, { running: false, exitCode: 143 });
    await s.bridge.event(ev("a", "die", { exitCode: "143" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
  });

  test("-deregister on-success: an operator's stop is a success whatever the exit code", async () => {
    const s = setup({ registry: new PlainRegistry(), deregister: "on-success" });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    run(s, { running: false, exitCode: 3 });
    await s.bridge.event(ev("a", "die", { exitCode: "3" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(s.bridge.status()).toEqual([]);
  });

  test("a container that survives the signal is back after the grace period, or at once when healthy", async () => {
    const registry = new DrainingRegistry();
    const s = setup({ registry, stopGraceMs: 50 });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    await s.bridge.flush();
    expect(registry.maint.has(SID)).toBe(true);
    await until(() => !registry.maint.has(SID));
    expect(status(s)?.outOfTraffic).toBeUndefined();
    expect(s.log.lines.some((l) => l.msg.startsWith("back: a still runs"))).toBe(true);

    const t = setup({ registry: new PlainRegistry(), stopGraceMs: 60_000 });
    t.docker.containers.set("a", { running: true, exitCode: 0, port: 80, health: { status: "healthy" } });
    await t.bridge.event(ev("a", "start"));
    await t.bridge.event(ev("a", "kill", { signal: "15" }));
    await t.bridge.flush();
    expect(t.ids()).toEqual([]);
    await t.bridge.event(ev("a", "health_status: healthy"));
    await t.bridge.flush();
    expect(t.ids()).toEqual([SID]);
    await t.bridge.close({ deregisterAll: false, timeoutMs: 100 });
  });

  test("-deregister-on-stop=false keeps it until die", async () => {
    const s = setup({ registry: new PlainRegistry(), deregisterOnStop: false });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([SID]);
    run(s, { running: false, exitCode: 0 });
    await s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
  });
});

describe("traffic changes are announced (onChange type traffic, whatever the backend)", () => {
  /** The traffic changes so far, reduced to what a /v1/events client reads, then forgotten. */
  const traffic = (s: ReturnType<typeof setup>) =>
    s.changes.splice(0).flatMap((c) => (c.type === "traffic" ? [{ id: c.service.id, out: c.outOfTraffic, op: c.op }] : []));

  test("mirroring backend: out while starting, back when healthy, out when unhealthy; each mirror write too, the periodic refresh not", async () => {
    const s = setup();
    run(s, { health: { status: "starting" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(traffic(s)).toEqual([{ id: SID, out: "starting", op: undefined }]);
    run(s, { health: { status: "healthy", output: "ok" } });
    await s.bridge.event(ev("a", "health_status: healthy"));
    await s.bridge.flush();
    // The event sets the status at once, the confirming inspect brings the probe output: one
    // announcement per mirror write that changed something.
    const healthy = traffic(s);
    expect(healthy[0]).toEqual({ id: SID, out: undefined, op: undefined });
    expect(healthy.slice(1).length).toBeGreaterThan(0);
    for (const c of healthy.slice(1)) expect(c).toEqual({ id: SID, out: undefined, op: "health" });
    expect(stored(s)?.mirror).toEqual({ status: "passing", output: "ok" });
    await s.bridge.refreshHealth();
    expect(traffic(s)).toEqual([]);
    run(s, { health: { status: "unhealthy", output: "refused" } });
    await s.bridge.event(ev("a", "health_status: unhealthy"));
    await s.bridge.flush();
    const unhealthy = traffic(s);
    expect(unhealthy[0]).toEqual({ id: SID, out: "unhealthy", op: undefined });
    expect(unhealthy.slice(1).length).toBeGreaterThan(0);
    for (const c of unhealthy.slice(1)) expect(c).toEqual({ id: SID, out: "unhealthy", op: "health" });
  });

  test("plain backend: a service in traffic from the start is announced by its registration only; pause and unpause are", async () => {
    const s = setup({ registry: new PlainRegistry() });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(s.changes.map((c) => c.type)).toEqual(["registered"]);
    expect(traffic(s)).toEqual([]);
    run(s, { paused: true });
    await s.bridge.event(ev("a", "pause"));
    await s.bridge.flush();
    expect(traffic(s)).toEqual([{ id: SID, out: "paused", op: undefined }]);
    run(s, { paused: false });
    await s.bridge.event(ev("a", "unpause"));
    await s.bridge.flush();
    expect(traffic(s)).toEqual([{ id: SID, out: undefined, op: undefined }]);
  });

  test("stop-drain backend: the stop signal, then maintenance on landing, are announced", async () => {
    const s = setup({ registry: new DrainingRegistry() });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    s.changes.length = 0;
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    await s.bridge.flush();
    expect(traffic(s)).toEqual([{ id: SID, out: "stopping", op: undefined }, { id: SID, out: "stopping", op: "maintenance" }]);
  });

  test("a failed maintenance write announces no landing", async () => {
    const registry = new DrainingRegistry();
    const s = setup({ registry });
    run(s);
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    s.changes.length = 0;
    registry.down = true;
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    await s.bridge.flush();
    expect(s.changes.some((c) => c.type === "failed" && c.op === "maintenance")).toBe(true);
    expect(traffic(s)).toEqual([{ id: SID, out: "stopping", op: undefined }]);
    await s.bridge.close({ deregisterAll: false, timeoutMs: 100 });
  });
});
