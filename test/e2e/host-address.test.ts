// -ip <interface> (and -ip <range> in a second registrator) on a real interface made for this test: no address at first (/ready false,
// nothing registered), then an address (every service registers with it), then another one (every
// service moves to it: no entry lost or duplicated, one log line old → new). The link only ever
// holds a 198.18.0.0/15 /32 address (benchmarking range): no traffic is routed through it.
import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { freePort, run, waitFor } from "../support/proc.ts";
import { HOST, e2eFile, httpUrl, keysUnder } from "./helpers.ts";

const f = e2eFile();
const LINK = `rgtip${randomBytes(4).toString("hex")}`;
let created = false;

/** A link of our own: `dummy` where the kernel has it, else an empty bridge (same for reading its address). */
async function createLink(): Promise<void> {
  try {
    await run(["ip", "link", "add", LINK, "type", "dummy"]);
  } catch {
    await run(["ip", "link", "add", LINK, "type", "bridge"]);
  }
  created = true;
  await run(["ip", "link", "set", LINK, "up"]);
}

afterAll(async () => {
  if (created) await run(["ip", "link", "del", LINK]).catch(() => {});
});

/** Services move within a resolve period (30 s) and a sync: the bound. */
const MOVE_WITHIN_MS = 35_000;

test("-ip <interface> and -ip <cidr>: wait for the address, register every service with it, move them all when it changes", async () => {
  await createLink();
  const a = randomBytes(2);
  const [first, second] = [`198.18.${a[0]}.${a[1]! & 0x7f}`, `198.18.${a[0]}.${(a[1]! & 0x7f) | 0x80}`];
  const prefix = `/hostip${process.pid}`;
  // local:// beside etcd: the embedded registry's node address follows the interface too.
  const p = await f.registrator(["-ip", LINK, `etcd://${f.e.etcd.endpoint}${prefix}`, "local://"]);
  const url = await httpUrl(p);
  await p.waitForLine(new RegExp(`-ip ${LINK}: interface "${LINK}" has no address yet`));
  // A second registrator follows the range both addresses are in, into a prefix of its own.
  const range = `198.18.${a[0]}.0/24`;
  const cidrPrefix = `/hostcidr${process.pid}`;
  const q = await f.registrator(["-ip", range, `etcd://${f.e.etcd.endpoint}${cidrPrefix}`]);
  await q.waitForLine(new RegExp(`-ip ${range.replace(/\./g, "\\.")}: no interface in .* has an address yet`));

  // Several containers and ports: two services of one container, one of another.
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const multi = await f.container(["-p", `${p1}:80`, "-p", `${p2}:81`], undefined, "multi");
  const single = await f.container(["-p", `${p3}:80`, "-e", `SERVICE_NAME=single${process.pid}`], undefined, "single");
  const keys = (ip: string, under = prefix) => ({
    [`${under}/busybox-80/${HOST}:${multi}:80`]: `${ip}:${p1}`,
    [`${under}/busybox-81/${HOST}:${multi}:81`]: `${ip}:${p2}`,
    [`${under}/single${process.pid}/${HOST}:${single}:80`]: `${ip}:${p3}`,
  });
  // Both containers were looked at (and skipped for want of the address) before the address came.
  await p.waitForLine(new RegExp(`Skipped port 81/tcp of container "${multi}": no address could be determined`));
  await p.waitForLine(new RegExp(`Skipped port 80/tcp of container "${single}": no address could be determined`));
  const ready = await fetch(`${url}/ready`);
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as { reason: string }).reason).toContain(`address: -ip ${LINK} has no address yet`);
  expect(await keysUnder(f.e, `${prefix}/`)).toEqual({});
  expect(await keysUnder(f.e, `${cidrPrefix}/`)).toEqual({});

  await run(["ip", "addr", "add", `${first}/32`, "dev", LINK]);
  await waitFor(async () => {
    expect(await keysUnder(f.e, `${prefix}/`)).toEqual(keys(first));
    expect(await keysUnder(f.e, `${cidrPrefix}/`)).toEqual(keys(first, cidrPrefix));
    return true;
  }, { timeout: MOVE_WITHIN_MS, interval: 200, message: `every service registered at ${first}` });
  await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, { timeout: 5000, message: "/ready once the address is there" });
  const nodeAddress = async () => ((await (await fetch(`${url}/v1/catalog/nodes`)).json()) as Array<{ Address: string }>).map((n) => n.Address);
  expect(await nodeAddress()).toEqual([first]);

  const mark = p.mark();
  await run(["ip", "addr", "del", `${first}/32`, "dev", LINK]);
  await run(["ip", "addr", "add", `${second}/32`, "dev", LINK]);
  await waitFor(async () => {
    expect(await keysUnder(f.e, `${prefix}/`)).toEqual(keys(second));
    expect(await keysUnder(f.e, `${cidrPrefix}/`)).toEqual(keys(second, cidrPrefix));
    return true;
  }, { timeout: MOVE_WITHIN_MS, interval: 200, message: `every service moved to ${second}` });
  expect(await nodeAddress()).toEqual([second]);
  // Which rule chose the address, as /v1/services shows it.
  const why = ((await (await fetch(`${url}/v1/services`)).json()) as Array<{ id: string; why?: { address: string } }>)
    .filter((x) => x.id.includes(multi) || x.id.includes(single))
    .map((x) => x.why?.address);
  expect(why).toEqual([`-ip ${LINK} → ${second}`, `-ip ${LINK} → ${second}`, `-ip ${LINK} → ${second}`]);
  const changed = p.lines.slice(mark).filter((l) => l.includes("address changed"));
  expect(changed).toHaveLength(1);
  expect(changed[0]).toContain(`-ip ${LINK}: address changed ${first} → ${second}; re-registering every service with it`);
  const cidrChanged = q.lines.filter((l) => l.includes("address changed"));
  expect(cidrChanged).toHaveLength(1);
  expect(cidrChanged[0]).toContain(`-ip ${range}: address changed ${first} → ${second}`);
  expect(p.running && q.running).toBe(true);
}, 150_000);
