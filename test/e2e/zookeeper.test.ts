// registrator end to end with zookeeper:// on a real ZooKeeper: ephemeral nodes with registrator's
// JSON body, removed with the container (and the emptied service node), and re-created after
// ZooKeeper restarts, with its data and without. ZooKeeper is read with our pure-TS client and
// cross-checked with the server's own view (`dump`: ephemerals by session, `cons`: live sessions).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ZkClient } from "../../src/registries/zk/client.ts";
import { Err, ZkError } from "../../src/registries/zk/protocol.ts";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { startZookeeper, type Zookeeper } from "../support/zookeeper.ts";
import { e2eEnv, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
let zk: Zookeeper;
let reg: Proc;
const started: string[] = [];
const BASE = "/services";

beforeAll(async () => {
  [e, zk] = await Promise.all([e2eEnv(), startZookeeper()]);
  reg = await registrator(e, ["-ip", "127.0.0.1", `zookeeper://${zk.connectString}${BASE}`]);
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  await dropReader();
  await rmf(e, ...started);
  await zk?.stop();
}, 60_000);

// --- reading ZooKeeper ----------------------------------------------------------------------------

let readerClient: ZkClient | undefined;

/** Our own client session, for reads (re-created after each ZooKeeper restart). */
async function reader(): Promise<ZkClient> {
  readerClient ??= new ZkClient({ hosts: [{ host: "127.0.0.1", port: zk.port }], sessionTimeoutMs: 4000, operationTimeoutMs: 3000 });
  await readerClient.ready();
  return readerClient;
}

async function dropReader(): Promise<void> {
  await readerClient?.close();
  readerClient = undefined;
}

interface Node {
  body: Record<string, unknown>;
  owner: bigint;
}

/** The node's parsed body and ephemeral owner, or null when it does not exist. */
async function node(path: string): Promise<Node | null> {
  try {
    const { data, stat } = await (await reader()).getData(path);
    return { body: JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>, owner: stat.ephemeralOwner };
  } catch (err) {
    if (err instanceof ZkError && err.code === Err.noNode) return null;
    throw err;
  }
}

async function children(path: string): Promise<string[] | null> {
  try {
    return (await (await reader()).getChildren(path)).sort();
  } catch (err) {
    if (err instanceof ZkError && err.code === Err.noNode) return null;
    throw err;
  }
}

const hex = (id: bigint) => `0x${BigInt.asUintN(64, id).toString(16)}`;

/** Session IDs with a live connection, from the server's `cons`. */
async function liveSessions(): Promise<Set<string>> {
  return new Set([...(await zk.fourLetter("cons")).matchAll(/sid=(0x[0-9a-f]+)/g)].map((m) => m[1] as string));
}

/**
 * Waits until every path in `want` is an ephemeral node with exactly that body, owned by one live
 * session that is not ours (registrator's), as both our client and the server's dump see it.
 * Resolves with that session ID.
 */
async function registered(want: Record<string, Record<string, unknown>>, timeout = 5000, what = "nodes"): Promise<string> {
  return waitFor(async () => {
    const owners = new Set<string>();
    for (const [path, body] of Object.entries(want)) {
      const n = await node(path);
      expect(n?.body).toEqual(body);
      expect(n?.owner).not.toBe(0n);
      owners.add(hex(n?.owner as bigint));
    }
    expect(owners.size).toBe(1);
    const [owner] = [...owners] as [string];
    expect(owner).not.toBe(hex((await reader()).sessionId));
    expect((await liveSessions()).has(owner)).toBe(true);
    const dumped = (await zk.ephemerals()).get(owner) ?? [];
    for (const path of Object.keys(want)) expect(dumped).toContain(path);
    return owner;
  }, { timeout, interval: 50, message: `${what} not registered as expected` });
}

async function absent(path: string, timeout = 5000): Promise<void> {
  await waitFor(async () => (await (await reader()).exists(path)) === null, { timeout, message: `${path} still exists` });
}

// --- containers -----------------------------------------------------------------------------------

interface Started {
  name: string;
  id: string;
  port: number;
}

async function container(env: string[] = []): Promise<Started> {
  const name = uniqueName("zk");
  const port = await freePort();
  started.push(name);
  const id = await run(e, ["--name", name, "-p", `${port}:80`, ...env.flatMap((v) => ["-e", v])]);
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return { name, id, port };
}

const body = (c: Started, name: string) => ({
  Name: name,
  IP: "127.0.0.1",
  PublicPort: c.port,
  PrivatePort: 80,
  ContainerID: c.id,
  Tags: [],
  Attrs: {},
});

describe("zookeeper://", () => {
  test("a published port becomes an ephemeral /services/<image>/127.0.0.1:<port> with registrator's JSON; gone on docker stop", async () => {
    const c = await container();
    const path = `${BASE}/busybox/127.0.0.1:${c.port}`;
    await registered({ [path]: body(c, "busybox") });
    // The base and service nodes are persistent.
    const r = await reader();
    expect((await r.exists(BASE))?.ephemeralOwner).toBe(0n);
    expect((await r.exists(`${BASE}/busybox`))?.ephemeralOwner).toBe(0n);
    await e.dockerd.docker(["stop", "-t", "0", c.name]);
    await absent(path);
    expect((await zk.ephemeralPaths()).filter((p) => p === path)).toEqual([]);
    expect(reg.running).toBe(true);
  });

  test("SERVICE_NAME and tags/attributes go into the body; the service node goes with its last instance", async () => {
    const svc = `zkweb${process.pid}`;
    const a = await container([`SERVICE_NAME=${svc}`, "SERVICE_TAGS=b,a", "SERVICE_ZONE=z1"]);
    const b = await container([`SERVICE_NAME=${svc}`]);
    const pa = `${BASE}/${svc}/127.0.0.1:${a.port}`;
    const pb = `${BASE}/${svc}/127.0.0.1:${b.port}`;
    await registered({ [pa]: { ...body(a, svc), Tags: ["b", "a"], Attrs: { zone: "z1" } }, [pb]: body(b, svc) });
    expect(await children(`${BASE}/${svc}`)).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());

    await rmf(e, a.name);
    await absent(pa);
    // One instance left: the service node stays, holding just that one.
    expect(await children(`${BASE}/${svc}`)).toEqual([`127.0.0.1:${b.port}`]);
    await rmf(e, b.name);
    await absent(pb);
    await absent(`${BASE}/${svc}`);
    expect(await (await reader()).exists(BASE)).not.toBeNull();
  });

  // Each test has its own service name and containers, so either runs alone or in any order.
  describe("ZooKeeper restarts", () => {
    test("a restart that keeps the data: nodes still there, owned by registrator's live session; registrator keeps working", async () => {
      const svc = `zkrs${process.pid}`;
      const dir = `${BASE}/${svc}`;
      const want = (...cs: Started[]) => Object.fromEntries(cs.map((c) => [`${dir}/127.0.0.1:${c.port}`, body(c, svc)]));
      let a = await container([`SERVICE_NAME=${svc}`]);
      const b = await container([`SERVICE_NAME=${svc}`]);
      const before = await registered(want(a, b));
      await dropReader();
      await zk.restart();
      const after = await registered(want(a, b), 30_000, "nodes after a restart with data");
      // Back well within the session timeout: the session was resumed, nothing was churned.
      expect(after).toBe(before);
      expect(await children(dir)).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
      // Changes after the restart land too.
      await rmf(e, a.name);
      const c = await container([`SERVICE_NAME=${svc}`]);
      await absent(`${dir}/127.0.0.1:${a.port}`);
      await registered(want(b, c));
      a = c;
      await rmf(e, a.name, b.name);
      await absent(dir);
      expect(reg.running).toBe(true);
    }, 60_000);

    test("a restart that loses all data: registrator re-creates parents and nodes in a new session", async () => {
      const svc = `zkrw${process.pid}`;
      const dir = `${BASE}/${svc}`;
      const want = (...cs: Started[]) => Object.fromEntries(cs.map((c) => [`${dir}/127.0.0.1:${c.port}`, body(c, svc)]));
      const a = await container([`SERVICE_NAME=${svc}`]);
      const b = await container([`SERVICE_NAME=${svc}`]);
      const before = await registered(want(a, b));
      const mark = reg.mark();
      await dropReader();
      await zk.restart({ wipe: true });
      // Nothing survived on the server side: the old session and its nodes are gone.
      expect((await zk.ephemerals()).has(before)).toBe(false);
      const after = await registered(want(a, b), 40_000, "nodes after a restart that lost the data");
      expect(after).not.toBe(before);
      expect(await children(dir)).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
      await reg.waitForLine(/new session; re-creating \d+ nodes/, 5000, mark);
      // And it keeps following containers in the new session.
      await rmf(e, b.name);
      await absent(`${dir}/127.0.0.1:${b.port}`);
      await rmf(e, a.name);
      await absent(dir);
      expect(reg.running).toBe(true);
    }, 60_000);
  });
});
