// registrator end to end on a real dockerd and a real etcd (v3): the core lifecycle.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, waitFor, type Proc } from "../support/proc.ts";
import { e2eEnv, HOST, keyIs, keysUnder, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
let reg: Proc;
const prefix = `/core${process.pid}`;
const key = (name: string, port = 6379, image = "busybox") => `${prefix}/${image}/${HOST}:${name}:${port}`;
const started: string[] = [];

async function runNamed(args: string[], cmd?: string[]): Promise<string> {
  const name = uniqueName();
  started.push(name);
  await run(e, ["--name", name, ...args], cmd);
  return name;
}

beforeAll(async () => {
  e = await e2eEnv();
});

afterAll(async () => {
  await reg?.stop();
  await rmf(e, ...started);
});

describe("core lifecycle with etcd", () => {
  test("a container started before registrator is registered at startup", async () => {
    const port = await freePort();
    const name = await runNamed(["-p", `${port}:6379`]);
    reg = await registrator(e, ["-ip", "127.0.0.1", `etcd://${e.etcd.endpoint}${prefix}`]);
    await keyIs(e, key(name), `127.0.0.1:${port}`);
  });

  test("docker run registers within a second; docker stop removes it within a second", async () => {
    const port = await freePort();
    const name = uniqueName("redis.");
    started.push(name);
    const t0 = Date.now();
    await run(e, ["--name", name, "-p", `${port}:6379`]);
    await keyIs(e, key(name), `127.0.0.1:${port}`, 1000 + (Date.now() - t0));
    const t1 = Date.now();
    await e.dockerd.docker(["stop", "-t", "0", name]);
    await keyIs(e, key(name), undefined, 1000 + (Date.now() - t1));
  });

  test("docker rm -f removes the entry", async () => {
    const port = await freePort();
    const name = await runNamed(["-p", `${port}:6379`]);
    await keyIs(e, key(name), `127.0.0.1:${port}`);
    await rmf(e, name);
    await keyIs(e, key(name), undefined);
  });

  test("restart-policy flapping ends registered", async () => {
    const port = await freePort();
    // Fails three times (each start bumps a counter kept in the container's filesystem), then stays up.
    const script = 'n=$(cat /count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /count; [ $n -ge 4 ] && exec sleep 3600; exit 1';
    const name = await runNamed(["--restart", "always", "-p", `${port}:6379`], ["sh", "-c", script]);
    await waitFor(async () => (await e.dockerd.json(`/containers/${name}/json`)).RestartCount >= 3, { timeout: 20_000, message: "container never flapped" });
    await keyIs(e, key(name), `127.0.0.1:${port}`, 10_000);
    const inspect = await e.dockerd.json(`/containers/${name}/json`);
    expect(inspect.State.Running).toBe(true);
  });

  test("a malformed SERVICE_* value is skipped with a warning naming container and key; the daemon goes on", async () => {
    const port = await freePort();
    const mark = reg.mark();
    const bad = await runNamed(["-p", `${port}:6379`, "-e", "SERVICE_NAME=../../x"]);
    const line = await reg.waitForLine(new RegExp(`${bad}.*SERVICE_NAME|SERVICE_NAME.*${bad}`), 5000, mark);
    expect(line[0]).toContain("SERVICE_NAME");
    const port2 = await freePort();
    const good = await runNamed(["-p", `${port2}:6379`]);
    await keyIs(e, key(good), `127.0.0.1:${port2}`);
    const all = await keysUnder(e, "/");
    expect(Object.keys(all).filter((k) => k.includes("/x/") || k === "/x" || !k.startsWith("/"))).toEqual([]);
    expect(reg.running).toBe(true);
  });

  test("20 containers started together, then removed together, end exact — three times", async () => {
    for (let round = 0; round < 3; round++) {
      const names = Array.from({ length: 20 }, () => uniqueName("burst"));
      started.push(...names);
      const ports = await Promise.all(names.map(() => freePort()));
      await Promise.all(names.map((n, i) => run(e, ["--name", n, "-p", `${ports[i]}:6379`])));
      const expected = Object.fromEntries(names.map((n, i) => [key(n), `127.0.0.1:${ports[i]}`]));
      await waitFor(async () => {
        const have = await keysUnder(e, `${prefix}/busybox/${HOST}:burst`);
        return names.every((n) => have[key(n)] === expected[key(n)]) ? have : false;
      }, { timeout: 30_000, message: `round ${round}: not all 20 registered` });
      await e.dockerd.docker(["rm", "-f", ...names]);
      await waitFor(async () => Object.keys(await keysUnder(e, `${prefix}/busybox/${HOST}:burst`)).length === 0, {
        timeout: 30_000,
        message: `round ${round}: entries left after removal`,
      });
    }
  });
});
