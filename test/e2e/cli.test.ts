// The command line as users meet it: the bad invocations exit 2 with one line before any
// connection, and the compiled executable does the core start/stop job against etcd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freshBinary } from "../../build.ts";
import { freePort, spawn, tempDir, type Proc } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { e2eEnv, HOST, keyIs, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
const procs: Proc[] = [];
const names: string[] = [];

beforeAll(async () => {
  e = await e2eEnv();
});

afterAll(async () => {
  for (const p of procs) await p.stop();
  await rmf(e, ...names);
});

test.each([
  [["foo://x"], /Unknown registry "foo:\/\/"/],
  [["-ttl", "10", "etcd://"], /-ttl and -ttl-refresh go together/],
  [["-deregister", "sometimes", "etcd://"], /-deregister: expected one of always, on-success/],
  [["consulkv://127.0.0.1:8500"], /prefix is required/],
  [["-tags", "{{.Config.Hostname", "etcd://"], /-tags/],
])("registrator %j exits 2 with one line, before connecting anywhere", async (args, pattern) => {
  // A Docker socket that does not exist: reaching for it would show up as a different error.
  const p = spawn(registratorCommand(args), { env: { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
  expect(await p.exited).toBe(2);
  expect(p.stdout).toEqual([]);
  expect(p.stderr).toHaveLength(1);
  expect(p.stderr[0]).toMatch(pattern);
});

test("the compiled executable registers in etcd on start and removes on stop", async () => {
  const binary = await freshBinary(tempDir("regtest-cli-bin-"));
  const prefix = `/bin${process.pid}`;
  const p = await registrator(e, ["-ip", "127.0.0.1", `etcd://${e.etcd.endpoint}${prefix}`], { runtime: { binary } });
  procs.push(p);
  const port = await freePort();
  const name = uniqueName("redis.");
  names.push(name);
  await run(e, ["--name", name, "-p", `${port}:6379`]);
  const key = `${prefix}/busybox/${HOST}:${name}:6379`;
  await keyIs(e, key, `127.0.0.1:${port}`);
  await e.dockerd.docker(["stop", "-t", "0", name]);
  await keyIs(e, key, undefined);
});
