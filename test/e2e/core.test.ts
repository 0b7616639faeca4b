// registrator end to end on a real dockerd and a real etcd (v3): the core lifecycle. Each test
// starts its own registrator writing under its own prefix, and its own containers (e2eFile stops
// and removes them when the test ends), so any test runs alone or in any order.
import { describe, expect, test } from "bun:test";
import { freePort, waitFor } from "../support/proc.ts";
import { HOST, e2eFile, keyIs, keysUnder } from "./helpers.ts";

const file = e2eFile();
let seq = 0;

/** A registrator writing under a prefix of its own, and the etcd key of a container's port there. */
async function startRegistrator() {
  const prefix = `/core${process.pid}t${++seq}`;
  const reg = await file.registrator(["-ip", "127.0.0.1", `etcd://${file.e.etcd.endpoint}${prefix}`]);
  const key = (name: string, port = 6379, image = "busybox") => `${prefix}/${image}/${HOST}:${name}:${port}`;
  return { reg, prefix, key };
}

describe("core lifecycle with etcd", () => {
  test("a container started before registrator is registered at startup", async () => {
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`]);
    const { key } = await startRegistrator();
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
  });

  test("docker run registers; docker stop removes the entry", async () => {
    const { key } = await startRegistrator();
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`], undefined, "redis.");
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
    await file.e.dockerd.docker(["stop", "-t", "0", name]);
    await keyIs(file.e, key(name), undefined);
  });

  test("docker rm -f removes the entry", async () => {
    const { key } = await startRegistrator();
    const port = await freePort();
    const name = await file.container(["-p", `${port}:6379`]);
    await keyIs(file.e, key(name), `127.0.0.1:${port}`);
    await file.e.dockerd.docker(["rm", "-f", name]);
    await keyIs(file.e, key(name), undefined);
  });

  test("restart-policy flapping ends registered", async () => {
    const { key } = await startRegistrator();
    const port = await freePort();
    // Fails three times (each start bumps a counter kept in the container's filesystem), then stays up.
    const script = 'n=$(cat /count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /count; [ $n -ge 4 ] && exec sleep 3600; exit 1';
    const name = await file.container(["--restart", "always", "-p", `${port}:6379`], ["sh", "-c", script]);
    await waitFor(async () => (await file.e.dockerd.json(`/containers/${name}/json`)).RestartCount >= 3, { timeout: 20_000, message: "container never flapped" });
    await keyIs(file.e, key(name), `127.0.0.1:${port}`, 10_000);
    const inspect = await file.e.dockerd.json(`/containers/${name}/json`);
    expect(inspect.State.Running).toBe(true);
  });

  test("a malformed SERVICE_* value is skipped with a warning naming container and key; the daemon goes on", async () => {
    const { reg, prefix, key } = await startRegistrator();
    const port = await freePort();
    const mark = reg.mark();
    const bad = await file.container(["-p", `${port}:6379`, "-e", "SERVICE_NAME=../../x"]);
    const line = await reg.waitForLine(new RegExp(`${bad}.*SERVICE_NAME|SERVICE_NAME.*${bad}`), 5000, mark);
    expect(line[0]).toContain("SERVICE_NAME");
    const port2 = await freePort();
    const good = await file.container(["-p", `${port2}:6379`]);
    await keyIs(file.e, key(good), `127.0.0.1:${port2}`);
    // Nothing written for the bad container, inside the prefix or (through "..") outside it.
    expect(Object.keys(await keysUnder(file.e, prefix)).filter((k) => k.includes(bad))).toEqual([]);
    const all = await keysUnder(file.e, "/");
    expect(Object.keys(all).filter((k) => k.includes("/x/") || k === "/x" || !k.startsWith("/"))).toEqual([]);
    expect(reg.running).toBe(true);
  });

  test("20 containers started together, then removed together, end exact — three times", async () => {
    const { prefix, key } = await startRegistrator();
    for (let round = 0; round < 3; round++) {
      const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
      const names = await Promise.all(ports.map((p) => file.container(["-p", `${p}:6379`], undefined, "burst")));
      const expected = Object.fromEntries(names.map((n, i) => [key(n), `127.0.0.1:${ports[i]}`]));
      await waitFor(async () => {
        const have = await keysUnder(file.e, `${prefix}/busybox/${HOST}:burst`);
        return names.every((n) => have[key(n)] === expected[key(n)]) ? have : false;
      }, { timeout: 30_000, message: `round ${round}: not all 20 registered` });
      await file.e.dockerd.docker(["rm", "-f", ...names]);
      await waitFor(async () => Object.keys(await keysUnder(file.e, `${prefix}/busybox/${HOST}:burst`)).length === 0, {
        timeout: 30_000,
        message: `round ${round}: entries left after removal`,
      });
    }
  });
});
