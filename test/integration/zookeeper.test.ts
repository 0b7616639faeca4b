// zookeeper adapter and our ZooKeeper wire client against a real ZooKeeper 3.8 server.
// Ephemeral ownership is read from the server's own `dump` command, not through our client.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type Server, type Socket, createServer, connect } from "node:net";
import { RegistryError } from "../../src/errors.ts";
import { ZkClient } from "../../src/registries/zk/client.ts";
import { Err, ZkError } from "../../src/registries/zk/protocol.ts";
import { type ZookeeperAdapter, zookeeperFactory } from "../../src/registries/zookeeper.ts";
import type { Service } from "../../src/types.ts";
import { adapterContext, rejection, testService } from "../support/fixtures.ts";
import { freePort, waitFor } from "../support/proc.ts";
import { type Zookeeper, startZookeeper, zookeeperMissing } from "../support/zookeeper.ts";

const skip = zookeeperMissing();

const web1 = testService({ attrs: { zone: "a", env: "prod" } });
const web2 = testService({ id: "host1:web2:80", port: 8081, origin: { containerName: "web2" } });
const v6 = testService({ id: "host1:v6:80", name: "v6", ip: "fd00::12", port: 80 });

/** A TCP proxy the test can cut (a network partition between the adapter and ZooKeeper). */
async function proxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const cut = () => {
    open = false;
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    cut,
    heal: () => void (open = true),
    close: () => new Promise<void>((r) => (cut(), server.close(() => r()))),
  };
}

describe.skipIf(skip)("zookeeper", () => {
  let zk: Zookeeper;
  let reader: ZkClient;
  const adapters: ZookeeperAdapter[] = [];
  const make = (base: string, opts: { sessionTimeoutMs?: number; hosts?: string } = {}) => {
    const { ctx, log } = adapterContext();
    const a = zookeeperFactory(parseRegistryUri(`zookeeper://${opts.hosts ?? zk.connectString}${base}`), ctx, {
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 4000,
    }) as ZookeeperAdapter;
    adapters.push(a);
    return { a, log };
  };
  const body = async (path: string) => JSON.parse(new TextDecoder().decode((await reader.getData(path)).data));
  const session = (a: ZookeeperAdapter) => `0x${a.client.sessionId.toString(16)}`;

  beforeAll(async () => {
    zk = await startZookeeper();
    reader = new ZkClient({ hosts: [{ host: "127.0.0.1", port: zk.port }], sessionTimeoutMs: 10_000 });
  }, 60_000);
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.close({ deregisterAll: true }).catch(() => {});
  });
  afterAll(async () => {
    await reader?.close();
    await zk?.stop();
  }, 30_000);

  test("register: ephemeral <base>/<name>/<ip>:<port> owned by our session, JSON body, persistent parents", async () => {
    const { a } = make("/services/prod");
    await a.ping();
    await a.register(web1);
    await a.register(v6);
    const eph = await zk.ephemerals();
    expect(eph.get(session(a))?.sort()).toEqual(["/services/prod/v6/[fd00::12]:80", "/services/prod/web/10.0.0.2:8080"]);
    expect(await body("/services/prod/web/10.0.0.2:8080")).toEqual({
      Name: "web",
      IP: "10.0.0.2",
      PublicPort: 8080,
      PrivatePort: 80,
      ContainerID: web1.origin.containerId,
      Tags: ["a", "b"],
      Attrs: { env: "prod", zone: "a" },
    });
    for (const parent of ["/services", "/services/prod", "/services/prod/web"]) {
      expect((await reader.exists(parent))?.ephemeralOwner).toBe(0n);
    }
    expect((await reader.getChildren("/services/prod")).sort()).toEqual(["v6", "web"]);
  });

  test("register again with new metadata updates the body in place (same session, same node)", async () => {
    const { a } = make("/update");
    await a.register(web1);
    const before = await reader.exists("/update/web/10.0.0.2:8080");
    await a.register({ ...web1, tags: ["new"] });
    const after = await reader.exists("/update/web/10.0.0.2:8080");
    expect(after?.czxid).toBe(before?.czxid as bigint); // not re-created
    expect((await body("/update/web/10.0.0.2:8080")).Tags).toEqual(["new"]);
    await a.register({ ...web1, tags: ["new"] }); // identical: no write
    expect((await reader.exists("/update/web/10.0.0.2:8080"))?.version).toBe(after?.version as number);
  });

  test("a node left by an old session is taken over by ours", async () => {
    const { a: old } = make("/takeover", { sessionTimeoutMs: 10_000 });
    await old.register(web1);
    old.client.detach(); // registrator restarted: the old session lingers
    const { a } = make("/takeover");
    await a.register(web1);
    expect((await zk.ephemerals()).get(session(a))).toEqual(["/takeover/web/10.0.0.2:8080"]);
  });

  test("deregister deletes the node and the emptied <base>/<name>, keeping a parent with other instances", async () => {
    const { a } = make("/dereg");
    await a.register(web1);
    await a.register(web2);
    await a.deregister(web1);
    expect(await reader.exists("/dereg/web/10.0.0.2:8080")).toBeNull();
    expect(await reader.getChildren("/dereg/web")).toEqual(["10.0.0.2:8081"]);
    await a.deregister(web2);
    await a.deregister(web2); // already gone
    expect(await reader.exists("/dereg/web")).toBeNull();
    expect(await reader.exists("/dereg")).not.toBeNull(); // the base stays
  });

  test("path escapes are refused before anything is written", async () => {
    const { a } = make("/safe");
    const bad: Service[] = [
      { ...web1, name: ".." },
      { ...web1, name: "../../zookeeper" },
      { ...web1, name: "a/b" },
      { ...web1, name: "" },
      { ...web1, name: "tab\there" },
      { ...web1, ip: "1.2.3.4/../x" },
      { ...web1, ip: "" },
    ];
    for (const s of bad) {
      expect(() => a.servicePath(s)).toThrow(/Refusing .* as a key segment in zookeeper/);
      // Refused once with a warning, not retried forever: register and deregister resolve.
      await a.register(s);
      await a.deregister(s);
    }
    expect(await reader.exists("/safe")).toBeNull();
  });

  test("names ZooKeeper itself refuses (emoji, private use, C1) are refused before writing, with one warning each", async () => {
    // The server's own rule first: these really are refused (so retrying would fail forever).
    for (const name of ["rocket-\u{1F680}", "pua-\uE000", "c1-\u0085", "nonchar-\uFFFE"]) {
      const err = await rejection(reader.create(`/${name}`, "", "persistent"), ZkError);
      expect(err.code).toBe(Err.badArguments);
    }
    const { a, log } = make("/names");
    const bad: Service[] = [
      { ...web1, id: "host1:rocket:80", name: "web-\u{1F680}" },
      { ...web1, id: "host1:pua:80", name: "web-\uE000" },
      { ...web1, id: "host1:c1:80", name: "web-\u0085" },
    ];
    for (const s of bad) {
      await a.register(s);
      await a.register(s); // a resync: no second warning
      await a.refresh([s]);
      await a.deregister(s);
    }
    const warnings = log.lines.filter((l) => l.level === "warn" && l.msg.startsWith("Not registering"));
    expect(warnings.map((w) => w.fields?.service)).toEqual(bad.map((s) => s.id));
    expect(warnings[0]!.msg).toContain("U+1F680");
    expect(await reader.exists("/names")).toBeNull();
    // Names ZooKeeper accepts, non-Latin letters included, are written as before.
    const ok = { ...web1, id: "host1:tokyo:80", name: "東京-web" };
    await a.register(ok);
    expect(await body(`/names/東京-web/10.0.0.2:8080`)).toMatchObject({ Name: "東京-web" });
  });

  test("close({deregisterAll}) ends the session (nodes go at once); close() lets them time out", async () => {
    const { a } = make("/closing");
    await a.register(web1);
    const { a: b } = make("/closing2", { sessionTimeoutMs: 2000 });
    await b.register(web1);
    await a.close({ deregisterAll: true });
    expect(await reader.exists("/closing/web/10.0.0.2:8080")).toBeNull();
    await b.close();
    expect(await reader.exists("/closing2/web/10.0.0.2:8080")).not.toBeNull();
    await waitFor(async () => (await reader.exists("/closing2/web/10.0.0.2:8080")) === null, {
      timeout: 10_000,
      interval: 100,
      message: "session timeout removes the node",
    });
  });

  test("network partition longer than the session: expiry detected, new session, nodes re-created", async () => {
    const p = await proxy(zk.port);
    try {
      const { a, log } = make("/partition", { sessionTimeoutMs: 2000, hosts: `127.0.0.1:${p.port}` });
      await a.register(web1);
      await a.register(v6);
      const first = session(a);
      p.cut();
      // The server expires the session and deletes its nodes.
      await waitFor(async () => (await reader.exists("/partition/web/10.0.0.2:8080")) === null, {
        timeout: 15_000,
        interval: 100,
        message: "nodes of the expired session removed",
      });
      p.heal();
      await waitFor(async () => (await zk.ephemerals()).get(session(a))?.length === 2 && session(a) !== first, {
        timeout: 15_000,
        interval: 100,
        message: "nodes re-created under a new session",
      });
      expect(log.lines.some((l) => /session 0x[0-9a-f]+ expired/.test(l.msg))).toBe(true);
      expect((await body("/partition/v6/[fd00::12]:80")).IP).toBe("fd00::12");
    } finally {
      await p.close();
    }
  }, 40_000);

  test("a short disconnect resumes the same session: nodes stay", async () => {
    const p = await proxy(zk.port);
    try {
      const { a } = make("/blip", { sessionTimeoutMs: 6000, hosts: `127.0.0.1:${p.port}` });
      await a.register(web1);
      const first = a.client.sessionId;
      p.cut();
      await waitFor(() => !a.client.connected, { timeout: 5000, message: "disconnect noticed" });
      p.heal();
      await a.register(web2); // waits for the reconnection
      expect(a.client.sessionId).toBe(first);
      expect((await zk.ephemerals()).get(session(a))?.sort()).toEqual(["/blip/web/10.0.0.2:8080", "/blip/web/10.0.0.2:8081"]);
    } finally {
      await p.close();
    }
  }, 30_000);

  test("several hosts: a dead first host is skipped", async () => {
    const dead = await freePort();
    const { a } = make("/multi", { hosts: `127.0.0.1:${dead},${zk.connectString}` });
    await a.ping();
    await a.register(web1);
    expect((await zk.ephemerals()).get(session(a))).toEqual(["/multi/web/10.0.0.2:8080"]);
  });

  test("nothing reachable: ping fails with a RegistryError naming the hosts", async () => {
    const dead = await freePort();
    const { ctx } = adapterContext();
    const a = zookeeperFactory(parseRegistryUri(`zookeeper://127.0.0.1:${dead}/x`), ctx, { sessionTimeoutMs: 2000, operationTimeoutMs: 1500 });
    const e = await rejection(a.ping(), RegistryError);
    expect(e.message).toContain(`127.0.0.1:${dead}`);
    await a.close();
  });

  test("client: NodeExists, NoNode and NotEmpty come back as ZkError codes", async () => {
    await reader.create("/codes", "");
    await reader.create("/codes/child", "x");
    expect(((await rejection(reader.create("/codes", ""))) as ZkError).code).toBe(Err.nodeExists);
    expect(((await rejection(reader.delete("/codes"))) as ZkError).code).toBe(Err.notEmpty);
    expect(((await rejection(reader.getData("/nope"))) as ZkError).code).toBe(Err.noNode);
    expect(await reader.exists("/nope")).toBeNull();
    expect(new TextDecoder().decode((await reader.getData("/codes/child")).data)).toBe("x");
  });

  // Last: it restarts the server.
  test("ZooKeeper restarts: same data → session resumes; wiped data → nodes re-created", async () => {
    const { a, log } = make("/restart", { sessionTimeoutMs: 10_000 });
    await a.register(web1);
    const first = session(a);
    await zk.restart();
    await a.register(web2);
    expect(session(a)).toBe(first);
    expect((await zk.ephemerals()).get(first)?.sort()).toEqual(["/restart/web/10.0.0.2:8080", "/restart/web/10.0.0.2:8081"]);

    await zk.restart({ wipe: true });
    await waitFor(
      async () => {
        const paths = (await zk.ephemerals()).get(session(a));
        return session(a) !== first && paths?.length === 2;
      },
      { timeout: 20_000, interval: 100, message: "nodes re-created after the data loss" },
    );
    expect(await body("/restart/web/10.0.0.2:8081")).toMatchObject({ PublicPort: 8081 });
    expect(log.lines.some((l) => /re-creating 2 nodes/.test(l.msg))).toBe(true);
  }, 60_000);
});
