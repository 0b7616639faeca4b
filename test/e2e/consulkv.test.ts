// registrator end to end with the Consul KV backend against the agent emulator, over TCP and a
// unix socket: services/<name>/<id> = ip:port follows the container; no prefix is a startup error.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ConsulEmulator } from "../support/consul/index.ts";
import { tempDir, waitFor } from "../support/proc.ts";
import { consulE2eFile, exitWithin } from "./consul-helpers.ts";

// What a test starts ends with it; what a beforeAll starts, with the file.
const e = consulE2eFile();

/** The key appears with ip:port when the container starts and is deleted when it is removed. */
async function followsTheContainer(emu: ConsulEmulator, uri: string) {
  const reg = await e.registrator(["-ip", "127.0.0.1", uri]);
  const c = await e.redisContainer([], "kv");
  const key = `services/redis/${c.serviceId}`;
  await waitFor(() => emu.kv()[key] === `127.0.0.1:${c.port}`, { message: `${key} never became 127.0.0.1:${c.port} (have ${JSON.stringify(emu.kv()[key])})` });
  // Nothing outside the prefix.
  expect(Object.keys(emu.kv()).filter((k) => !k.startsWith("services/"))).toEqual([]);
  await e.dockerd.docker(["rm", "-f", c.name]);
  await waitFor(() => !(key in emu.kv()), { message: `${key} still present after docker rm -f` });
  expect(reg.running).toBe(true);
  await reg.stop();
}

describe("consulkv", () => {
  test("consulkv://127.0.0.1:<port>/services", async () => {
    const emu = await e.emulator();
    await followsTheContainer(emu, `consulkv://127.0.0.1:${emu.port}/services`);
  });

  test("consulkv-unix:///path:/services", async () => {
    const socket = join(tempDir("regtest-consulkv-sock-"), "consul.sock");
    const emu = await e.emulator({ unixSocket: socket });
    await followsTheContainer(emu, `consulkv-unix://${socket}:/services`);
  });

  test("consulkv://127.0.0.1:8500 without a prefix exits 2 with one clear line, connecting nowhere", async () => {
    const reg = await e.registrator(["consulkv://127.0.0.1:8500"], { ready: null, env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    expect(await exitWithin(reg, 10_000)).toBe(2);
    expect(reg.stdout).toEqual([]);
    expect(reg.stderr).toEqual([
      'registrator: Invalid registry URI "consulkv://127.0.0.1:8500": a key prefix is required (consulkv://host:port/prefix or consulkv-unix:///path/to/consul.sock:/prefix)',
    ]);
  });
});
