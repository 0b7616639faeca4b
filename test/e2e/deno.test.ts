// The same start/stop end to end, with registrator running from source under Deno.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort, type Proc } from "../support/proc.ts";
import { e2eEnv, HOST, keyIs, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
let reg: Proc | undefined;
const names: string[] = [];

beforeAll(async () => {
  e = await e2eEnv();
});

afterAll(async () => {
  await reg?.stop();
  await rmf(e, ...names);
});

test("under Deno: docker run registers in etcd, docker stop removes it", async () => {
  const prefix = `/deno${process.pid}`;
  reg = await registrator(e, ["-ip", "127.0.0.1", `etcd://${e.etcd.endpoint}${prefix}`], { runtime: "deno" });
  expect(reg.lines.join("\n")).toContain("on deno");
  const port = await freePort();
  const name = uniqueName("redis.");
  names.push(name);
  await run(e, ["--name", name, "-p", `${port}:6379`]);
  const key = `${prefix}/busybox/${HOST}:${name}:6379`;
  await keyIs(e, key, `127.0.0.1:${port}`);
  await e.dockerd.docker(["stop", "-t", "0", name]);
  await keyIs(e, key, undefined);
});
