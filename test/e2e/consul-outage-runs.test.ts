// Issue 11: "a forgotten entry stays in the registry forever". The race it names: the startup
// reconcile lists the agent's services while the first registrations are in flight; the listing
// (taken before the writes landed, answered after) does not show them; the agent then answers
// 500 for 10 s while a container stops. A bridge that believed the listing forgot the entry and
// never deregistered it.
//
// Ten registrators start at once, each against its own Consul agent emulator behind a small proxy
// that sets up exactly that order at startup: the first registrations are held 1 s before they
// reach the agent, the first GET /v1/agent/services reaches it at once (so its answer lacks them)
// but is answered only after those registrations landed, and at that moment the agent starts
// answering 500 on /v1/agent/* for 10 s. While every outage is on, one container stops, three
// start and a short-lived one comes and goes. Every run must then end exact.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { type Proc, waitFor } from "../support/proc.ts";
import { type Container, type ConsulE2e, consulE2e } from "./consul-helpers.ts";

let e: ConsulE2e;
const servers: Array<{ stop(force?: boolean): unknown }> = [];

beforeAll(async () => {
  e = await consulE2e();
});

afterAll(async () => {
  await e?.cleanup();
  for (const s of servers) s.stop(true);
});

const RUNS = 10;
const FAULT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Trap {
  port: number;
  /** When the outage began (the startup listing was answered then); undefined until it did. */
  began?: number;
  /** The service IDs the startup listing lacked although their registration had landed before it was answered. */
  missed: string[];
}

/** A proxy to the emulator that orders the startup listing and registrations as described above. */
function trapProxy(emu: ConsulEmulator, ids: string[]): Trap {
  const trap: Trap = { port: 0, missed: [] };
  const landed = new Set<string>();
  let allLanded!: () => void;
  const landing = new Promise<void>((r) => (allLanded = r));
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === "GET" ? undefined : await req.arrayBuffer();
      const register = req.method === "PUT" && url.pathname === "/v1/agent/service/register";
      const id = register && body ? (JSON.parse(new TextDecoder().decode(body)) as { ID?: string }).ID : undefined;
      const startupListing = req.method === "GET" && url.pathname === "/v1/agent/services" && trap.began === undefined;
      if (register && trap.began === undefined) await sleep(1000);
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`http://127.0.0.1:${emu.port}${url.pathname}${url.search}`, { method: req.method, headers, body });
      const text = await res.text();
      if (register && res.status === 200 && id && ids.includes(id)) {
        landed.add(id);
        if (ids.every((i) => landed.has(i))) allLanded();
      }
      if (startupListing && trap.began === undefined) {
        await Promise.race([landing, sleep(10_000)]);
        const listed = JSON.parse(text) as Record<string, unknown>;
        trap.missed = ids.filter((i) => landed.has(i) && !(i in listed));
        emu.fail({ status: 500, paths: /^\/v1\/agent\//, untilMs: FAULT_MS });
        trap.began = Date.now();
      }
      const out = new Headers(res.headers);
      out.delete("content-length");
      out.delete("content-encoding");
      return new Response(text, { status: res.status, headers: out });
    },
  });
  servers.push(server);
  trap.port = server.port ?? 0;
  return trap;
}

describe("ten registrators from startup: the startup listing races the first registrations, then a 10 s Consul outage while containers come and go", () => {
  test("every run ends exact", async () => {
    const keep = await e.redisContainer([], "olr");
    const gone = await e.redisContainer([], "olr");

    const runs: Array<{ emu: ConsulEmulator; trap: Trap; reg: Promise<Proc> }> = [];
    for (let i = 0; i < RUNS; i++) {
      const emu = await e.emulator();
      const trap = trapProxy(emu, [keep.serviceId, gone.serviceId]);
      const reg = e.registrator(["-ip", "127.0.0.1", "-consul-sync", "0", `consul://127.0.0.1:${trap.port}`], { ready: null });
      runs.push({ emu, trap, reg });
    }
    const procs = await Promise.all(runs.map((r) => r.reg));
    await Promise.all(procs.map((p) => p.waitForLine(/Connected to Docker/, 30_000)));
    await waitFor(() => runs.every((r) => r.trap.began !== undefined), { timeout: 30_000, message: "not every run's startup listing was answered" });
    // The race really happened in every run: the listing lacked writes that had landed.
    for (const r of runs) expect(r.trap.missed.length).toBeGreaterThan(0);

    await e.dockerd.docker(["stop", "-t", "0", gone.name]);
    const added: Container[] = [];
    for (let i = 0; i < 3; i++) added.push(await e.redisContainer([], "olr"));
    const flash = await e.redisContainer([], "olr");
    await e.dockerd.docker(["rm", "-f", flash.name]);
    const actionsDone = Date.now();
    const covered = runs.filter((r) => r.trap.began! + FAULT_MS > actionsDone).length;

    const expected = [keep, ...added].map((c) => c.serviceId).sort();
    const mine = (emu: ConsulEmulator) => Object.keys(emu.services()).filter((id) => id.includes(":olr")).sort();
    const lastFaultEnd = Math.max(...runs.map((r) => r.trap.began! + FAULT_MS));
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
    for (const p of procs) expect(p.running).toBe(true);
    console.error(`${RUNS} runs exact ${settled} ms after the last outage ended; the container changes came inside ${covered} of ${RUNS} outages`);
  });
});
