// Removal straight from the event (die with its exit code, destroy), confirmed by the inspect
// that follows; and the registry listing that must not make the bridge forget a write.
import { describe, expect, test } from "bun:test";
import type { ContainerEvent } from "../../src/bridge/events.ts";
import { setup, until } from "./bridge-support.ts";

const ev = (id: string, action: string, attributes: Record<string, string> = {}): ContainerEvent => ({ id, action, attributes });

async function registered(s: ReturnType<typeof setup>, id: string, port = 80) {
  s.docker.containers.set(id, { running: true, exitCode: 0, port });
  await s.bridge.event(ev(id, "start"));
  await s.bridge.flush();
  expect(s.ids()).toContain(`host:${id}:${port}`);
}

describe("die and destroy act before the inspect returns", () => {
  test("die removes the services while its inspect is still waiting on the engine", async () => {
    const s = setup();
    await registered(s, "a");
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    s.docker.inspectGate.close();
    const confirmed = s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await until(() => s.ids().length === 0);
    expect(s.docker.inspectGate.waiting).toBe(1); // the confirming inspect has not returned
    s.docker.inspectGate.open();
    await confirmed;
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
  });

  test("die → start inside the inspect window ends registered", async () => {
    const s = setup();
    await registered(s, "a");
    s.docker.inspectGate.close();
    s.docker.containers.set("a", { running: false, exitCode: 1, port: 80 });
    const p1 = s.bridge.event(ev("a", "die", { exitCode: "1" }));
    await until(() => s.ids().length === 0);
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    const p2 = s.bridge.event(ev("a", "start"));
    s.docker.inspectGate.open();
    await Promise.all([p1, p2]);
    await s.bridge.flush();
    expect(s.ids()).toEqual(["host:a:80"]);
  });

  test("an inspect overtaken by a die does not put back a container that died", async () => {
    const s = setup();
    await registered(s, "a");
    const registers = () => s.registry.calls.filter((c) => c.startsWith("register")).length;
    const before = registers();
    s.docker.inspectGate.close();
    // A restart event's inspect sees it running; the die arrives while that inspect is under way.
    const p1 = s.bridge.event(ev("a", "restart"));
    await until(() => s.docker.inspectGate.waiting === 1);
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    const p2 = s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await until(() => s.ids().length === 0);
    s.docker.inspectGate.open();
    await Promise.all([p1, p2]);
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(registers()).toBe(before);
  });

  test("-deregister on-success decides from the event's exit code: 3 kept, 0 and 137 removed", async () => {
    for (const [code, kept] of [["3", true], ["0", false], ["137", false]] as const) {
      const s = setup({ deregister: "on-success" });
      await registered(s, "a");
      s.docker.containers.set("a", { running: false, exitCode: Number(code), port: 80 });
      s.docker.inspectGate.close();
      const confirmed = s.bridge.event(ev("a", "die", { exitCode: code }));
      if (kept) {
        await until(() => s.log.lines.some((l) => l.msg.startsWith(`kept: a exited with code ${code}`)));
        expect(s.ids()).toEqual(["host:a:80"]);
      } else {
        await until(() => s.ids().length === 0);
      }
      expect(s.docker.inspectGate.waiting).toBe(1);
      s.docker.inspectGate.open();
      await confirmed;
      await s.bridge.flush();
      expect(s.ids()).toEqual(kept ? ["host:a:80"] : []);
    }
  });

  test("the confirming inspect of a die waits its time: removed at once, inspected only later", async () => {
    const s = setup({ confirmDieAfterMs: 60_000 });
    await registered(s, "a");
    const inspects = s.docker.inspects;
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    const confirmed = s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await until(() => s.ids().length === 0);
    await s.bridge.flush();
    expect(s.docker.inspects).toBe(inspects);
    // A start in the meantime has its own inspect, at once, and ends registered.
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "start"));
    await s.bridge.flush();
    expect(s.ids()).toEqual(["host:a:80"]);
    expect(s.docker.inspects).toBe(inspects + 1);
    // Closing settles the waiting confirmation instead of leaving its caller hanging.
    await s.bridge.close({ deregisterAll: false, timeoutMs: 1000 });
    await confirmed;
  });

  test("the confirming inspect of a die runs once its time is up", async () => {
    const s = setup({ confirmDieAfterMs: 1 });
    await registered(s, "a");
    const inspects = s.docker.inspects;
    s.docker.containers.set("a", { running: false, exitCode: 3, port: 80 });
    await s.bridge.event(ev("a", "die", { exitCode: "3" }));
    expect(s.docker.inspects).toBe(inspects + 1);
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
  });

  test("a destroy without a prior die removes at once, with no inspect (the container is gone)", async () => {
    const s = setup({ deregister: "on-success" });
    await registered(s, "a");
    const inspects = s.docker.inspects;
    s.docker.containers.delete("a");
    await s.bridge.event(ev("a", "destroy"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(s.bridge.status()).toEqual([]);
    expect(s.docker.inspects).toBe(inspects);
  });

  test("rm -f (kill 15, die, destroy) leaves no per-container state behind", async () => {
    const s = setup({ confirmDieAfterMs: 60_000 });
    await registered(s, "a");
    await s.bridge.event(ev("a", "kill", { signal: "15" }));
    s.docker.containers.set("a", { running: false, exitCode: 137, port: 80 });
    const died = s.bridge.event(ev("a", "die", { exitCode: "137" }));
    s.docker.containers.delete("a");
    await s.bridge.event(ev("a", "destroy"));
    await died;
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
    expect(s.bridge["overtaken"].size).toBe(0);
    expect(s.bridge["confirmTimers"].size).toBe(0);
    expect(s.bridge["stopTimers"].size).toBe(0);
  });

  test("a destroy drops the pending confirmation of its die, which settles without an inspect", async () => {
    const s = setup({ confirmDieAfterMs: 60_000 });
    await registered(s, "a");
    const inspects = s.docker.inspects;
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    const confirmed = s.bridge.event(ev("a", "die", { exitCode: "0" }));
    await until(() => s.ids().length === 0);
    s.docker.containers.delete("a");
    await s.bridge.event(ev("a", "destroy"));
    await confirmed; // would wait 60 s were it still pending
    await s.bridge.flush();
    expect(s.docker.inspects).toBe(inspects);
    expect(s.bridge.status()).toEqual([]);
  });

  test("a die without an exit code (some engines) waits for the inspect", async () => {
    const s = setup();
    await registered(s, "a");
    s.docker.containers.set("a", { running: false, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "die"));
    await s.bridge.flush();
    expect(s.ids()).toEqual([]);
  });

  test("an event for one container writes that container only", async () => {
    const s = setup();
    for (let i = 0; i < 50; i++) s.docker.containers.set(`c${i}`, { running: true, exitCode: 0, port: 1000 + i });
    await s.bridge.syncAll();
    await s.bridge.flush();
    expect(s.registry.calls.length).toBe(50);
    s.registry.calls = [];
    s.docker.containers.set("c7", { running: false, exitCode: 0, port: 1007 });
    await s.bridge.event(ev("c7", "die", { exitCode: "0" }));
    await s.bridge.flush();
    expect(s.registry.calls).toEqual(["deregister host:c7:1007"]);
  });
});

describe("the bridge never forgets an entry it may have written", () => {
  test("a listing requested before a write completed does not drop it: the stop still deregisters", async () => {
    const s = setup();
    s.registry.writeGate.close();
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "start"));
    await until(() => s.registry.writeGate.waiting === 1); // the register is in flight
    s.registry.listGate.close();
    const reconciled = s.bridge.reconcileRegistry();
    s.registry.writeGate.open(); // the write lands after the listing was taken
    await s.bridge.flush();
    expect(s.ids()).toEqual(["host:a:80"]);
    // The registry fails from here on (the outage), so nothing can paper over a
    // forgotten entry by writing it again before the container goes.
    s.registry.down = true;
    s.registry.listGate.open(); // the listing (without it) is answered now
    await reconciled;
    s.docker.containers.delete("a");
    await s.bridge.event(ev("a", "destroy"));
    await s.bridge.flush();
    expect(s.ids()).toEqual(["host:a:80"]);
    s.registry.down = false; // the retry deletes it
    await until(() => s.ids().length === 0);
    await s.bridge.close({ deregisterAll: false, timeoutMs: 100 });
  });

  test("a register that failed may have landed: removing the container still sends the delete", async () => {
    const s = setup();
    s.registry.failAfterWrite = true;
    s.docker.containers.set("a", { running: true, exitCode: 0, port: 80 });
    await s.bridge.event(ev("a", "start"));
    await until(() => s.bridge.status()[0]?.lastError === "timed out");
    expect(s.bridge.status()[0]?.registered).toBe(false);
    s.docker.containers.delete("a");
    await s.bridge.event(ev("a", "destroy"));
    await s.bridge.flush();
    expect(s.registry.calls.at(-1)).toBe("deregister host:a:80");
    expect(s.ids()).toEqual([]);
    s.registry.failAfterWrite = false;
  });

  test("a listing that misses a completed write re-registers it, and only it", async () => {
    const s = setup();
    await registered(s, "a");
    await registered(s, "b", 81);
    s.registry.catalog.delete("host:a:80");
    s.registry.calls = [];
    await s.bridge.reconcileRegistry();
    await s.bridge.flush();
    expect(s.registry.calls).toEqual(["register host:a:80"]);
    expect(s.ids()).toEqual(["host:a:80", "host:b:81"]);
  });
});
