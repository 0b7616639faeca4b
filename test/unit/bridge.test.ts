import { describe, expect, test } from "bun:test";
import { Bridge, derivationInput, type DockerSource } from "../../src/bridge/bridge.ts";
import type { ContainerInspect } from "../../src/docker/schema.ts";
import { memoryLogger } from "../../src/log.ts";
import { LocalRegistry } from "../../src/registries/local.ts";
import type { Service, ServiceRef } from "../../src/types.ts";

/** A Docker whose containers the test sets directly; inspect answers from that table. */
class FakeDocker implements DockerSource {
  containers = new Map<string, { running: boolean; exitCode: number; port: number }>();
  inspectDelay = 0;
  async list() {
    return [...this.containers].filter(([, c]) => c.running).map(([Id]) => ({ Id }));
  }
  async inspect(id: string): Promise<ContainerInspect | null> {
    const snapshot = this.containers.get(id);
    const c = snapshot ? { ...snapshot } : undefined;
    if (this.inspectDelay) await new Promise((r) => setTimeout(r, this.inspectDelay));
    if (!c) return null;
    return {
      Id: id,
      Name: "/" + id,
      Config: { Image: "app" },
      State: { Running: c.running, ExitCode: c.exitCode },
      NetworkSettings: { Ports: { [`${c.port}/tcp`]: [{ HostIp: "0.0.0.0", HostPort: String(c.port) }] } },
    } as ContainerInspect;
  }
}

/** LocalRegistry with switchable failure, counting writes. */
class FlakyRegistry extends LocalRegistry {
  down = false;
  writes = 0;
  override async register(s: Service) {
    if (this.down) throw new Error("registry down");
    this.writes++;
    return super.register(s);
  }
  override async deregister(s: ServiceRef) {
    if (this.down) throw new Error("registry down");
    this.writes++;
    return super.deregister(s);
  }
}

const derive = (c: ContainerInspect) => {
  const [key] = Object.keys(c.NetworkSettings?.Ports ?? {});
  const port = Number(key!.split("/")[0]);
  const name = c.Name.slice(1);
  const service: Service = {
    id: `host:${name}:${port}`,
    name: "app",
    ip: "127.0.0.1",
    port,
    protocol: "tcp",
    tags: [],
    attrs: {},
    checks: [],
    enableTagOverride: false,
    origin: { containerId: c.Id, containerName: name, exposedPort: port, hostPort: String(port), hostIp: "0.0.0.0" },
  };
  return { services: [service], ignored: [], warnings: [] };
};

function setup(opts: { deregister?: "always" | "on-success"; cleanup?: boolean } = {}) {
  const docker = new FakeDocker();
  const registry = new FlakyRegistry();
  const log = memoryLogger();
  const bridge = new Bridge({
    docker,
    registry,
    derive,
    hostname: "host",
    deregister: opts.deregister ?? "always",
    cleanup: opts.cleanup ?? false,
    log,
    retryMinMs: 5,
    retryMaxMs: 20,
  });
  const ids = () => [...registry.catalog.services.keys()].sort();
  return { docker, registry, bridge, log, ids };
}

async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

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

  test("reconcileRegistry writes nothing when in sync and re-registers what the registry lost", async () => {
    const { docker, bridge, registry, ids } = setup();
    docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await bridge.syncAll();
    await bridge.flush();
    const before = registry.writes;
    await bridge.reconcileRegistry();
    expect(registry.writes).toBe(before);
    registry.catalog.services.clear();
    await bridge.reconcileRegistry();
    expect(ids()).toEqual(["host:a:80"]);
    expect(registry.writes).toBe(before + 1);
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
});
