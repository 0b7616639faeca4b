// Issue 11: "a forgotten entry stays in the registry forever". Ten registrators start at once,
// each against its own Consul agent emulator that answers 500 on /v1/agent/* for 10 s, the
// outages starting at staggered moments of registrator's startup (so some take the startup
// listing and the first registrations in flight, others only the later events). While every
// outage is on, one container stops, three start and a short-lived one comes and goes. Every one
// of the ten must then end exact: the stopped and removed containers absent, the others present.
// (The listing/write race itself is reproduced deterministically in test/unit/bridge-events.test.ts.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { type Proc, waitFor } from "../support/proc.ts";
import { type Container, type ConsulE2e, consulE2e } from "./consul-helpers.ts";

let e: ConsulE2e;

beforeAll(async () => {
  e = await consulE2e();
});

afterAll(async () => {
  await e?.cleanup();
});

const RUNS = 10;
const FAULT_MS = 10_000;
const STAGGER_MS = 150;

describe("ten registrators from startup, each with a 10 s Consul outage while containers come and go", () => {
  test("every run ends exact", async () => {
    const keep = await e.redisContainer([], "olr");
    const gone = await e.redisContainer([], "olr");

    const runs: Array<{ emu: ConsulEmulator; reg: Promise<Proc>; faultEnds: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      const emu = await e.emulator();
      // The ping (/v1/status/leader) answers, so registrator starts; everything it writes or lists fails.
      const reg = e.registrator(["-ip", "127.0.0.1", "-retry-attempts", "-1", "-retry-interval", "200", `consul://127.0.0.1:${emu.port}`], { ready: null });
      const offset = i * STAGGER_MS;
      const faultEnds = Date.now() + offset + FAULT_MS;
      setTimeout(() => emu.fail({ status: 500, paths: /^\/v1\/agent\//, untilMs: FAULT_MS }), offset);
      runs.push({ emu, reg, faultEnds });
    }
    const procs = await Promise.all(runs.map((r) => r.reg));
    await Promise.all(procs.map((p) => p.waitForLine(/Connected to Docker/, 30_000)));
    // Every outage has begun (the last starts RUNS × STAGGER_MS after its registrator).
    await waitFor(() => runs.every((r) => r.emu.requests.some((q) => q.status === 500)), { timeout: 15_000, message: "not every emulator has answered a 500 yet" });

    await e.dockerd.docker(["stop", "-t", "0", gone.name]);
    const added: Container[] = [];
    for (let i = 0; i < 3; i++) added.push(await e.redisContainer([], "olr"));
    const flash = await e.redisContainer([], "olr");
    await e.dockerd.docker(["rm", "-f", flash.name]);
    const actionsDone = Date.now();
    const coveredRuns = runs.filter((r) => r.faultEnds > actionsDone).length;

    const expected = [keep, ...added].map((c) => c.serviceId).sort();
    const mine = (emu: ConsulEmulator) => Object.keys(emu.services()).filter((id) => id.includes(":olr")).sort();
    const lastFaultEnd = Math.max(...runs.map((r) => r.faultEnds));
    await waitFor(() => runs.every((r) => JSON.stringify(mine(r.emu)) === JSON.stringify(expected)), {
      timeout: Math.max(0, lastFaultEnd - Date.now()) + 25_000,
      interval: 200,
      message: `not every run ended exact (want ${expected.join(", ")}; have ${runs.map((r, i) => `run ${i}: ${mine(r.emu).join(", ") || "none"}`).join("; ")})`,
    });
    const settled = Date.now() - lastFaultEnd;
    for (const r of runs) {
      for (const c of [keep, ...added]) expect(r.emu.services()[c.serviceId]).toMatchObject({ Port: c.port, Address: "127.0.0.1" });
      expect(r.emu.services()[gone.serviceId]).toBeUndefined();
      expect(r.emu.services()[flash.serviceId]).toBeUndefined();
    }
    // The outages really hit the removals: each run's deregistration of the stopped container
    // (or its registration) was answered 500 at least once.
    for (const r of runs) expect(r.emu.requests.some((q) => q.status === 500 && (q.path.includes(encodeURIComponent(gone.serviceId)) || q.body.includes(`"${gone.serviceId}"`)))).toBe(true);
    for (const p of procs) expect(p.running).toBe(true);
    console.error(`${RUNS} runs exact ${settled} ms after the last outage ended; ${coveredRuns} of ${RUNS} outages still on when the container changes were done`);
  });
});
