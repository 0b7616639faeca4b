// Several registries at once (issue 16): each registry's writer works on its own, so one that
// hangs, fails or is slow holds up neither the inspects nor another registry's writes.
import { describe, expect, test } from "bun:test";
import type { ContainerEvent } from "../../src/bridge/events.ts";
import { BRIDGE_POLICY } from "../../src/bridge/policy.ts";
import { registryNames } from "../../src/registries/names.ts";
import { FlakyRegistry, PlainRegistry, setup, until } from "./bridge-support.ts";

const ev = (id: string, action: string, attributes: Record<string, string> = {}): ContainerEvent => ({ id, action, attributes });
const idsOf = (r: FlakyRegistry) => [...r.catalog.services.keys()].sort();

describe("fan-out to several registries", () => {
  test("a registry whose writes hang delays neither the inspects nor the other registry", async () => {
    const hung = new FlakyRegistry();
    const other = new FlakyRegistry();
    const s = setup({ registry: hung, more: { other } });
    hung.writeGate.close();
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.writers[1]!.flush();
    expect(idsOf(other)).toEqual(["host:a:80"]);
    expect(hung.writeGate.waiting).toBe(1);
    // The container stops while the hung write is still out: the other registry follows at once.
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await s.bridge.writers[1]!.flush();
    expect(idsOf(other)).toEqual([]);
    // Once the hung registry answers it converges on its own: registered, then removed.
    hung.writeGate.open();
    await s.bridge.flush();
    expect(idsOf(hung)).toEqual([]);
    expect(hung.calls).toEqual(["register host:a:80", "deregister host:a:80"]);
  });

  test("a hung registry with every write slot taken: more containers than its slots still reach the other one", async () => {
    const hung = new FlakyRegistry();
    const other = new FlakyRegistry();
    const s = setup({ registry: hung, more: { other } });
    hung.writeGate.close();
    const slots = BRIDGE_POLICY.writeConcurrency;
    const names = Array.from({ length: slots + 12 }, (_, i) => `c${i}`);
    names.forEach((n, i) => s.docker.containers.set(n, { running: true, exitCode: 0, port: 1000 + i }));
    await s.bridge.syncAll();
    await s.bridge.writers[1]!.flush();
    expect(idsOf(other).length).toBe(names.length);
    expect(hung.writeGate.waiting).toBe(slots); // its own limit, not the other's
    names.forEach((n) => s.docker.containers.delete(n));
    await Promise.all(names.map((n) => s.bridge.event(ev(n, "destroy"))));
    await s.bridge.writers[1]!.flush();
    expect(idsOf(other)).toEqual([]);
    hung.writeGate.open();
    await until(() => s.bridge.pendingWrites() === 0 && hung.calls.length >= names.length);
    await s.bridge.flush();
    expect(idsOf(hung)).toEqual([]);
  });

  test("each registry has its own entries, errors and retries; status shows each", async () => {
    const down = new FlakyRegistry();
    const other = new FlakyRegistry();
    const s = setup({ registry: down, more: { other } });
    down.down = true;
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.sync("a");
    await s.bridge.flush();
    const st = s.bridge.status()[0]!;
    expect(st.registered).toBe(false);
    expect(st.lastError).toBe("registry down");
    expect(st.registries).toEqual([
      { registry: "first", registered: false, lastError: "registry down" },
      { registry: "other", registered: true },
    ]);
    expect(s.bridge.registered()).toEqual([]);
    const otherWrites = other.writes;
    down.down = false;
    await until(() => idsOf(down).length === 1);
    expect(other.writes).toBe(otherWrites); // the retry was the failed registry's alone
    expect(s.bridge.status()[0]!.registered).toBe(true);
    expect(s.bridge.registered().map((x) => x.id)).toEqual(["host:a:80"]);
    await s.bridge.close({ deregisterAll: false, timeoutMs: 100 });
  });

  test("a registry that lost a service is told again; the other is not written", async () => {
    const a = new FlakyRegistry();
    const b = new FlakyRegistry();
    const s = setup({ registry: a, more: { b } });
    s.docker.containers.set("x", { running: true, exitCode: 0, port: 80 });
    await s.bridge.syncAll();
    await s.bridge.flush();
    const [wa, wb] = [a.writes, b.writes];
    b.catalog.clear();
    await s.bridge.reconcileRegistry();
    expect(idsOf(b)).toEqual(["host:x:80"]);
    expect([a.writes, b.writes]).toEqual([wa, wb + 1]);
  });

  test("each registry decides traffic for itself: mirrored in one, held back in the other", async () => {
    const plain = new PlainRegistry();
    const mirroring = new FlakyRegistry();
    const s = setup({ registry: mirroring, more: { plain } });
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80, health: { status: "starting" } });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(mirroring.catalog.services.get("host:a:80")?.service.mirror?.status).toBe("critical");
    expect(idsOf(plain)).toEqual([]);
    expect(s.log.lines.some((l) => l.msg === "out of traffic: a host:a:80: starting (registered with a critical Docker health check in first, not registered in plain)")).toBe(true);
  });

  test("write log lines and changes name the registry when there are several", async () => {
    const s = setup({ more: { other: new FlakyRegistry() } });
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.sync("a");
    await s.bridge.flush();
    const added = s.log.lines.filter((l) => l.msg === "added: a host:a:80").map((l) => l.fields?.registry);
    expect(added.sort()).toEqual(["first", "other"]);
    expect(s.changes.filter((c) => c.type === "registered").map((c) => c.registry).sort()).toEqual(["first", "other"]);
  });

  test("one registry: log lines and changes as before, without a registry field", async () => {
    const s = setup();
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.sync("a");
    await s.bridge.flush();
    expect(s.log.lines.find((l) => l.msg === "added: a host:a:80")?.fields).toEqual({ name: "app", ip: "127.0.0.1", port: 80 });
    expect(s.changes.find((c) => c.type === "registered")).not.toHaveProperty("registry");
  });

  test("deregister-on-exit empties the reachable registry even while another hangs", async () => {
    const hung = new FlakyRegistry();
    const other = new FlakyRegistry();
    const s = setup({ registry: hung, more: { other } });
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.syncAll();
    await s.bridge.flush();
    hung.writeGate.close();
    await s.bridge.close({ deregisterAll: true, timeoutMs: 300 });
    expect(idsOf(other)).toEqual([]);
    expect(idsOf(hung)).toEqual(["host:a:80"]);
    hung.writeGate.open();
  });
});

describe("registryNames", () => {
  test("the backend when it is the only one of its kind, else the URI without credentials or query", () => {
    expect(registryNames(["etcd://127.0.0.1:2379/s", "local://"])).toEqual(["etcd", "local"]);
    expect(registryNames(["consul-tls://u:p@a:8501?x=1", "consul://b:8500"])).toEqual(["consul-tls://a:8501", "consul://b:8500"]);
    expect(registryNames(["etcd+https://a:2379"])).toEqual(["etcd"]);
  });
});
