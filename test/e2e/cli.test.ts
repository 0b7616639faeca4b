// The command line as users meet it: the bad invocations exit 2 with one line before any
// connection, and the compiled executable does the core start/stop job against etcd.
import { expect, test } from "bun:test";
import { freshBinary } from "../../build.ts";
import { spawn, tempDir } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { e2eFile, startStopRoundTrip } from "./helpers.ts";

const f = e2eFile();

test.each([
  [["foo://x"], /Unknown registry "foo:\/\/"/],
  [["-ttl", "10", "etcd://"], /-ttl and -ttl-refresh go together/],
  [["-deregister", "sometimes", "etcd://"], /-deregister: expected one of always, on-success/],
  [["consulkv://127.0.0.1:8500"], /prefix is required/],
  [["-tags", "{{.Config.Hostname", "etcd://"], /-tags/],
  [["-health", "sometimes", "etcd://"], /-health: expected one of auto, require, ignore/],
  [["-deregister-on-stop=later", "etcd://"], /-deregister-on-stop: expected true or false/],
  [["-network", "-internal", "etcd://"], /-network: expected a Docker network name/],
  [["etcd://127.0.0.1:2379/s", "local://", "etcd://127.0.0.1:2379/s"], /Registry URI "etcd:\/\/127.0.0.1:2379\/s" is given twice/],
  [["etcd://", "local://", "-ip", "10.0.0.5"], /flags go before the registry URIs/],
  [["-ip", "10.0.0.0/33", "etcd://"], /-ip: "10\.0\.0\.0\/33" is not a CIDR range/],
  [["-ip", "10.0.0.300", "etcd://"], /-ip: expected .* an interface name \(eth0\) or a CIDR range/],
  [["-hostname", "a:b", "etcd://"], /-hostname: expected a host name/],
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
  await f.registrator(["-ip", "127.0.0.1", `etcd://${f.e.etcd.endpoint}${prefix}`], { runtime: { binary } });
  await startStopRoundTrip(f, prefix);
});
