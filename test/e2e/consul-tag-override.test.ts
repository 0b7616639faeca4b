// SERVICE_ENABLE_TAG_OVERRIDE=true end to end: tags an operator sets in the catalog, which the agent
// adopts in its local state, are left alone by registrator's anti-entropy (-consul-sync).
import { expect, test } from "bun:test";
import type { RecordedRequest } from "../support/consul/app.ts";
import { waitFor } from "../support/proc.ts";
import { consulE2eFile } from "./consul-helpers.ts";

// What a test starts ends with it; what a beforeAll starts, with the file.
const e = consulE2eFile();

const isSyncRead = (r: RecordedRequest) => r.method === "GET" && r.path === "/v1/agent/services";

test("tags overridden in the catalog: -consul-sync 2 writes nothing for 5 anti-entropy rounds (10 s)", async () => {
  const emu = await e.emulator();
  await e.registrator(["-ip", "127.0.0.1", "-consul-sync", "2", `consul://127.0.0.1:${emu.port}`]);
  const c = await e.redisContainer(["-e", "SERVICE_ENABLE_TAG_OVERRIDE=true", "-e", "SERVICE_TAGS=blue,v1"], "eto");
  await waitFor(() => emu.services()[c.serviceId], { timeout: 30_000, message: `${c.serviceId} never registered` });
  expect(emu.services()[c.serviceId]).toMatchObject({ Tags: ["blue", "v1"], EnableTagOverride: true });

  expect(emu.overrideTags(c.serviceId, ["green", "canary"])).toBe(true);
  const from = emu.requests.length;
  const rounds = 5;
  await waitFor(() => emu.requests.slice(from).filter(isSyncRead).length >= rounds, {
    timeout: 30_000,
    interval: 200,
    message: `fewer than ${rounds} anti-entropy reads of /v1/agent/services (-consul-sync 2)`,
  });
  const writes = emu.requests.slice(from).filter((r) => r.method !== "GET");
  console.error(`tag override: ${emu.requests.slice(from).filter(isSyncRead).length} anti-entropy reads, ${writes.length} writes`);
  expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  expect(emu.services()[c.serviceId]).toMatchObject({ Tags: ["green", "canary"] });
});

test("without the override, a service the agent lost is written back at the next round", async () => {
  const emu = await e.emulator();
  await e.registrator(["-ip", "127.0.0.1", "-consul-sync", "2", `consul://127.0.0.1:${emu.port}`]);
  const c = await e.redisContainer(["-e", "SERVICE_TAGS=blue"], "eto");
  await waitFor(() => emu.services()[c.serviceId], { timeout: 30_000, message: `${c.serviceId} never registered` });
  expect(emu.overrideTags(c.serviceId, ["green"])).toBe(false);
  const res = await emu.fetch(`/v1/agent/service/deregister/${encodeURIComponent(c.serviceId)}`, { method: "PUT" });
  expect(res.status).toBe(200);
  await waitFor(() => emu.services()[c.serviceId], { timeout: 30_000, message: "anti-entropy never registered the lost service again" });
  expect(emu.services()[c.serviceId]).toMatchObject({ Tags: ["blue"] });
});
