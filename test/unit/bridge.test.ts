import { describe, expect, test } from "bun:test";
import { derivationInput, type DockerSource } from "../../src/bridge/derivation-input.ts";
import type { ContainerInspect } from "../../src/docker/schema.ts";
import { FakeDocker, derive, setup, until } from "./bridge-support.ts";

describe("bridge", () => {
  test("start registers, stop deregisters", async () => {
    const { docker, bridge, ids, log } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.sync("a");
    await bridge.flush();
    expect(ids()).toEqual(["host:a:80"]);
    expect(log.lines.some((l) => l.msg.startsWith("added: a host:a:80"))).toBe(true);
    docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    await bridge.sync("a");
    await bridge.flush();
    expect(ids()).toEqual([]);
  });

  test("a die→start burst for one container ends registered (last state wins)", async () => {
    const { docker, bridge, ids } = setup();
    docker.inspectDelay = 3;
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    const syncs: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      docker.containers.set("a", { running: false, exitCode: 1, port: 80 });
      syncs.push(bridge.sync("a"));
      docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
      syncs.push(bridge.sync("a"));
    }
    await Promise.all(syncs);
    await bridge.flush();
    expect(ids()).toEqual(["host:a:80"]);
  });

  test("on-success keeps services after a non-zero exit, removes them after exit 0, a signal or destroy", async () => {
    const { docker, bridge, ids } = setup({ deregister: "on-success" });
    for (const [exitCode, kept] of [[3, true], [0, false], [137, false], [143, false]] as const) {
      docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
      await bridge.sync("a");
      docker.containers.set("a", { running: false, exitCode, port: 80 });
      await bridge.sync("a");
      await bridge.flush();
      expect(ids()).toEqual(kept ? ["host:a:80"] : []);
    }
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.sync("a");
    docker.containers.set("a", { running: false, exitCode: 3, port: 80 });
    await bridge.sync("a");
    docker.containers.delete("a");
    await bridge.sync("a");
    await bridge.flush();
    expect(ids()).toEqual([]);
  });

  test("-deregister always removes after a non-zero exit", async () => {
    const { docker, bridge, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.sync("a");
    docker.containers.set("a", { running: false, exitCode: 3, port: 80 });
    await bridge.sync("a");
    await bridge.flush();
    expect(ids()).toEqual([]);
  });

  test("a registry outage loses nothing: writes are retried until they land", async () => {
    const { docker, bridge, registry, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    docker.containers.set("b", { running: true, exitCode: 0, port: 81 });
    await bridge.syncAll();
    await until(() => ids().length === 2);
    registry.down = true;
    docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    docker.containers.set("c", { running: true, exitCode: 0, port: 82 });
    await bridge.sync("a");
    await bridge.sync("c");
    await bridge.flush();
    expect(ids()).toEqual(["host:a:80", "host:b:81"]);
    expect(bridge.status().find((s) => s.service.id === "host:c:82")?.lastError).toBe("registry down");
    registry.down = false;
    await until(() => ids().join() === "host:b:81,host:c:82");
    await bridge.close({ deregisterAll: false, timeoutMs: 100 });
  });

  test("20 containers started and removed together, three times, end exact", async () => {
    const { docker, bridge, ids } = setup();
    for (let round = 0; round < 3; round++) {
      const names = Array.from({ length: 20 }, (_, i) => `c${round}-${i}`);
      names.forEach((n, i) => docker.containers.set(n, { running: true, exitCode: 0, port: 1000 + i }));
      await Promise.all(names.map((n) => bridge.sync(n)));
      await bridge.flush();
      expect(ids().length).toBe(20);
      names.forEach((n) => docker.containers.delete(n));
      await Promise.all(names.map((n) => bridge.sync(n)));
      await bridge.flush();
      expect(ids()).toEqual([]);
    }
  });

  test("a full sync keeps a window of containers in flight, not all of them, and asks for a collection every 250", async () => {
    let collections = 0;
    const { docker, bridge, ids } = setup({ collect: () => collections++ });
    for (let i = 0; i < 600; i++) docker.containers.set(`c${i}`, { running: true, exitCode: 0, port: 1000 + i });
    docker.inspectGate.close();
    const synced = bridge.syncAll();
    await until(() => docker.inspectGate.waiting === 8);
    // One queued sync per container up front would be 600 here.
    expect(bridge.pendingWrites()).toBeLessThanOrEqual(32);
    docker.inspectGate.open();
    await synced;
    await bridge.flush();
    expect(ids().length).toBe(600);
    expect(collections).toBe(2);
  });

  test("reconcileRegistry writes nothing when in sync and re-registers what the registry lost", async () => {
    const { docker, bridge, registry, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.syncAll();
    await bridge.flush();
    const before = registry.writes;
    await bridge.reconcileRegistry();
    expect(registry.writes).toBe(before);
    registry.catalog.clear();
    await bridge.reconcileRegistry();
    expect(ids()).toEqual(["host:a:80"]);
    expect(registry.writes).toBe(before + 1);
  });

  test("a service whose deciding rule text (why) changes, and nothing else, is not written again", async () => {
    const { docker, bridge, registry, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80, labels: { TEST_WHY: "-ip eth0 → 10.1.2.3" } });
    await bridge.syncAll();
    await bridge.flush();
    expect(ids()).toEqual(["host:a:80"]);
    const before = registry.writes;
    docker.containers.set("a", { running: true, exitCode: 0, port: 80, labels: { TEST_WHY: "SERVICE_IP" } });
    await bridge.sync("a");
    await bridge.flush();
    await bridge.reconcileRegistry();
    expect(registry.writes).toBe(before);
    // What the status shows is the current derivation's rule, written or not.
    expect(bridge.status().map((s) => s.service.why?.address)).toEqual(["SERVICE_IP"]);
  });

  test("-cleanup removes this host's entries without a container, and nobody else's", async () => {
    const { bridge, registry, ids } = setup({ cleanup: true });
    const stale = derive((await new FakeDocker().inspect("x")) ?? ({ Id: "gone", Name: "/gone", Config: {}, State: {}, NetworkSettings: { Ports: { "80/tcp": [] } } } as ContainerInspect)).services[0]!;
    await registry.register(stale);
    await registry.register({ ...stale, id: "otherhost:gone:80" });
    await registry.register({ ...stale, id: "custom-id" });
    await bridge.reconcileRegistry();
    expect(ids()).toEqual(["custom-id", "otherhost:gone:80"]);
  });

  test("deregister-on-exit empties the registry of this host's services", async () => {
    const { docker, bridge, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.syncAll();
    await bridge.flush();
    await bridge.close({ deregisterAll: true, timeoutMs: 1000 });
    expect(ids()).toEqual([]);
  });
});

describe("derivationInput", () => {
  const base = { Id: "c", Name: "/c", Image: "sha256:img", Config: { Image: "img" }, State: { Running: true } } as ContainerInspect;
  const docker = (exposed?: Record<string, unknown>): DockerSource => ({
    list: async () => [],
    inspect: async (id) => (id === "peer" ? ({ ...base, Id: "peer", Name: "/peer" } as ContainerInspect) : null),
    imageExposedPorts: async (image) => (image === "sha256:img" ? exposed : undefined),
  });

  test("a host-network container without ExposedPorts (Podman) takes the image's EXPOSE ports", async () => {
    const c = { ...base, HostConfig: { NetworkMode: "host" } } as ContainerInspect;
    const r = await derivationInput(docker({ "6380/tcp": {} }), c);
    expect(r.container.Config.ExposedPorts).toEqual({ "6380/tcp": {} });
    expect(c.Config.ExposedPorts).toBeUndefined();
  });

  test("other containers are left as they are; container:<id> mode brings the peer", async () => {
    const bridged = { ...base, HostConfig: { NetworkMode: "bridge" } } as ContainerInspect;
    expect((await derivationInput(docker({ "1/tcp": {} }), bridged)).container).toBe(bridged);
    const joined = { ...base, HostConfig: { NetworkMode: "container:peer" } } as ContainerInspect;
    expect((await derivationInput(docker(), joined)).peer?.Id).toBe("peer");
  });

  test("an image named by ID brings the image's tag; a named image asks nothing", async () => {
    const asked: string[] = [];
    const tagged: DockerSource = { ...docker(), imageTag: async (id) => (asked.push(id), id === `sha256:${"b".repeat(64)}` ? "shop:1" : null) };
    const byId = (ref: string) => ({ ...base, Image: `sha256:${"b".repeat(64)}`, Config: { Image: ref } }) as ContainerInspect;
    expect((await derivationInput(tagged, byId(`sha256:${"b".repeat(64)}`))).imageTag).toBe("shop:1");
    expect((await derivationInput(tagged, byId("b".repeat(12)))).imageTag).toBe("shop:1");
    expect("imageTag" in (await derivationInput(tagged, byId("redis:7")))).toBe(false);
    expect(asked).toEqual([`sha256:${"b".repeat(64)}`, `sha256:${"b".repeat(64)}`]);
  });
});
