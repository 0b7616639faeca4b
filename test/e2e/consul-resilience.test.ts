// registrator end to end against the Consul agent emulator when the agent misbehaves: a -dev
// restart that forgets everything (anti-entropy puts it back, and writes nothing when in sync),
// ten seconds of 500s while containers come and go, and the -ttl heartbeat across a restart.
import { describe, expect, test } from "bun:test";
import type { RecordedRequest } from "../support/consul/app.ts";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { waitFor } from "../support/proc.ts";
import { type Container, checksOf, consulE2eFile, escapeRe, registerBodies } from "./consul-helpers.ts";

// What a test starts ends with it; what a beforeAll starts, with the file.
const e = consulE2eFile();

const isSyncRead = (r: RecordedRequest) => r.method === "GET" && r.path === "/v1/agent/services";
const registeredAll = (emu: ConsulEmulator, cs: Container[]) => cs.every((c) => emu.services()[c.serviceId]);

describe("agent restart (-dev: everything forgotten) with -consul-sync 2", () => {
  test("in sync: anti-entropy reads and writes nothing; after restart() the services and checks are back within one interval", async () => {
    const emu = await e.emulator();
    const reg = await e.registrator(["-ip", "127.0.0.1", "-consul-sync", "2", `consul://127.0.0.1:${emu.port}`]);
    const cs = [await e.redisContainer(["-e", "SERVICE_CHECK_TCP=true"], "ae"), await e.redisContainer([], "ae")];
    await waitFor(() => registeredAll(emu, cs), { message: "containers never registered" });

    // Two anti-entropy reads with nothing changed in between: not a single write.
    const from = emu.requests.length;
    const reads = await waitFor(() => {
      const idx = emu.requests.map((r, i) => (i >= from && isSyncRead(r) ? i : -1)).filter((i) => i >= 0);
      return idx.length >= 2 ? idx : false;
    }, { timeout: 7000, interval: 100, message: "no two anti-entropy reads of /v1/agent/services within 7 s (-consul-sync 2)" });
    const between = emu.requests.slice(from, reads[1]! + 1);
    expect(between.filter((r) => r.method !== "GET")).toEqual([]);
    const gap = emu.requests[reads[1]!]!.time - emu.requests[reads[0]!]!.time;
    // Not more often than every -consul-sync (timers never fire early); the 7 s deadline above
    // bounds it from the other side without asserting how punctual a loaded machine is.
    expect(gap).toBeGreaterThan(1500);

    await emu.restart();
    const t0 = Date.now();
    expect(emu.services()).toEqual({});
    await waitFor(() => registeredAll(emu, cs), { timeout: 15_000, interval: 20, message: "services not back after the agent restart (anti-entropy every 2 s)" });
    const took = Date.now() - t0;
    for (const c of cs) {
      expect(emu.services()[c.serviceId]).toMatchObject({ ID: c.serviceId, Service: "redis", Address: "127.0.0.1", Port: c.port });
    }
    expect(Object.keys(checksOf(emu, cs[0]!.serviceId))).toEqual([`service:${cs[0]!.serviceId}`]);
    expect(checksOf(emu, cs[1]!.serviceId)).toEqual({});
    expect(reg.running).toBe(true);
    console.error(`services back ${took} ms after the agent restart`);
  });
});

describe("agent answering 500 for 10 s while containers start and stop", () => {
  test("afterwards the final state is exact: started ones registered, stopped ones absent", async () => {
    const emu = await e.emulator();
    const reg = await e.registrator(["-ip", "127.0.0.1", `consul://127.0.0.1:${emu.port}`]);
    const keep = await e.redisContainer([], "flt");
    const gone = await e.redisContainer([], "flt");
    await waitFor(() => registeredAll(emu, [keep, gone]), { message: "containers never registered" });

    // The fault lasts until this test ends it (at least FAULT_MS, and until the checks below have
    // seen the outage hit), so a slow machine cannot make it end before they look.
    const FAULT_MS = 10_000;
    const faultBegan = Date.now();
    emu.fail({ status: 500 });
    const [added1, added2] = [await e.redisContainer([], "flt"), await e.redisContainer([], "flt")];
    await e.dockerd.docker(["stop", "-t", "0", gone.name]);
    const flash = await e.redisContainer([], "flt");
    await e.dockerd.docker(["rm", "-f", flash.name]);

    // The outage really hit them: registrator tried, the agent answered 500, nothing changed.
    const answered500 = (pred: (r: RecordedRequest) => boolean) => emu.requests.some((r) => r.status === 500 && pred(r));
    await waitFor(() => answered500((r) => r.body.includes(`"${added1.serviceId}"`)) && answered500((r) => r.path.endsWith(encodeURIComponent(gone.serviceId))), {
      timeout: 30_000,
      message: "no 500-answered register/deregister attempts during the outage",
    });
    expect(emu.services()[added1.serviceId]).toBeUndefined();
    expect(emu.services()[gone.serviceId]).toBeDefined();
    // The rest of the outage is the test's stimulus, not a settle-sleep.
    await new Promise((r) => setTimeout(r, Math.max(0, faultBegan + FAULT_MS - Date.now())));
    emu.fail(null);
    const faultEnds = Date.now();

    const mine = () => Object.keys(emu.services()).filter((id) => id.includes(":flt")).sort();
    const expected = [keep, added1, added2].map((c) => c.serviceId).sort();
    await waitFor(() => JSON.stringify(mine()) === JSON.stringify(expected), {
      timeout: 20_000,
      interval: 100,
      message: `state not exact after the outage (want ${expected.join(", ")}; have ${mine().join(", ")})`,
    });
    const settled = Date.now() - faultEnds;
    for (const c of [keep, added1, added2]) expect(emu.services()[c.serviceId]).toMatchObject({ Port: c.port, Address: "127.0.0.1" });
    // Nothing of the short-lived container ever reached the agent.
    expect(registerBodies(emu, flash.serviceId)).toEqual([]);
    expect(reg.running).toBe(true);
    console.error(`exact state ${settled} ms after the outage ended`);
  });
});

describe("-ttl 6 -ttl-refresh 2", () => {
  test("each service gets the registrator-owned TTL check, passed every 2 s; after restart() the heartbeat's 404 re-registers it", async () => {
    const emu = await e.emulator();
    // -consul-sync 0: anti-entropy is off, so only the heartbeat can notice the restart.
    const reg = await e.registrator(["-ip", "127.0.0.1", "-ttl", "6", "-ttl-refresh", "2", "-consul-sync", "0", `consul://127.0.0.1:${emu.port}`]);
    const c = await e.redisContainer(["-e", "SERVICE_CHECK_HTTP=/health"], "ttl");
    await waitFor(() => emu.services()[c.serviceId], { message: `${c.serviceId} never registered` });
    const checkId = `registrator:${c.serviceId}`;
    const body = registerBodies(emu, c.serviceId)[0]!;
    expect(body.Checks).toEqual([
      { HTTP: `http://127.0.0.1:${c.port}/health`, Interval: "10s" },
      {
        CheckID: checkId,
        Name: "registrator heartbeat",
        Notes: "Passed by registrator every -ttl-refresh; critical when registrator stops refreshing for 6s",
        TTL: "6s",
        Status: "passing",
      },
    ]);
    expect(checksOf(emu, c.serviceId)[checkId]).toMatchObject({ CheckID: checkId, Type: "ttl", Status: "passing" });

    const passes = () => emu.requests.filter((r) => r.method === "PUT" && decodeURIComponent(r.path) === `/v1/agent/check/pass/${checkId}`);
    // Four passes span more than the 6 s TTL: the check stays passing only because they come.
    await waitFor(() => passes().filter((r) => r.status === 200).length >= 4, { timeout: 12_000, interval: 100, message: "fewer than 4 heartbeats in 12 s" });
    const times = passes().map((r) => r.time);
    // Paced by -ttl-refresh (never more often); that they come often enough is what the TTL
    // itself says: still passing after more than 6 s.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(1500);
    expect(times.at(-1)! - registerBodyTime(emu, c.serviceId)).toBeGreaterThan(6000);
    expect(checksOf(emu, c.serviceId)[checkId]?.Status).toBe("passing");

    const mark = reg.mark();
    const before = emu.requests.length;
    await emu.restart();
    const passedAgain = () => emu.requests.slice(before).some((r) => r.status === 200 && decodeURIComponent(r.path) === `/v1/agent/check/pass/${checkId}`);
    await waitFor(() => emu.services()[c.serviceId] && checksOf(emu, c.serviceId)[checkId]?.Status === "passing" && passedAgain(), {
      timeout: 2000 + 2000,
      interval: 20,
      message: "not re-registered within one -ttl-refresh (+2 s slack) of the restart",
    });
    const after = emu.requests.slice(before).filter((r) => r.method === "PUT" && (decodeURIComponent(r.path).includes(c.serviceId) || r.body.includes(`"${c.serviceId}"`)));
    expect(after.map((r) => [decodeURIComponent(r.path), r.status])).toEqual([
      [`/v1/agent/check/pass/${checkId}`, 404],
      ["/v1/agent/service/register", 200],
      [`/v1/agent/check/pass/${checkId}`, 200],
    ]);
    // Both checks are back (the HTTP check with it).
    expect(Object.keys(checksOf(emu, c.serviceId)).sort()).toEqual([checkId, `service:${c.serviceId}:1`].sort());
    await reg.waitForLine(new RegExp(`Consul agent lost "${escapeRe(c.serviceId)}" \\(404\\); registering it again`), 1000, mark);
    expect(reg.running).toBe(true);
  });
});

function registerBodyTime(emu: ConsulEmulator, id: string): number {
  const r = emu.requests.find((x) => x.method === "PUT" && x.path === "/v1/agent/service/register" && x.status === 200 && x.body.includes(`"${id}"`));
  if (!r) throw new Error(`no accepted register request for ${id}`);
  return r.time;
}
