// Shared pieces of the Consul end-to-end files (consul*.test.ts): the shared dockerd without etcd,
// a "redis" image (EXPOSE 6379, so the default service name is "redis"), registrator child
// processes, and readers of what the Consul agent emulator received.
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { sharedDockerd, type Dockerd } from "../support/docker.ts";
import { exposing } from "../support/image.ts";
import { type ConsulEmulator, type EmulatorOptions, startConsulEmulator } from "../support/consul/index.ts";
import { freePort, type Proc } from "../support/proc.ts";
import { startRegistrator, waitForHttpApi } from "../support/registrator.ts";
import { HOST, uniqueName } from "./helpers.ts";

export { HOST, uniqueName };

export interface ConsulE2e {
  dockerd: Dockerd;
  /** regtest/redis:latest: the busybox test image with EXPOSE 6379/tcp. */
  redis: string;
  /** Starts registrator (stopped by endTest() or cleanup()); waits for `ready` (default "Connected to Docker"; null: no wait). */
  registrator(args: string[], opts?: { env?: Record<string, string | undefined>; ready?: RegExp | null }): Promise<Proc>;
  /** docker run -d -P --name <unique> [extra] regtest/redis sleep 3600. */
  redisContainer(extra?: string[], prefix?: string): Promise<Container>;
  /** Starts a Consul agent emulator (stopped by endTest() or cleanup()). */
  emulator(opts?: EmulatorOptions): Promise<ConsulEmulator>;
  /** From now until endTest(), what is started belongs to the running test (call in beforeEach). */
  beginTest(): void;
  /** Stops the registrators and emulators and removes the containers the test started (call in
   * afterEach): none of them may act during a later test. What a beforeAll started stays. */
  endTest(): Promise<void>;
  /** Stops every registrator and emulator and removes every container this file started. */
  cleanup(): Promise<void>;
}

export interface Container {
  name: string;
  id: string;
  /** The host port Docker published for 6379/tcp (read from docker inspect). */
  port: number;
  /** The service ID registrator gives 6379: <hostname>:<container name>:6379. */
  serviceId: string;
}

export async function consulE2e(): Promise<ConsulE2e> {
  const dockerd = await sharedDockerd();
  const redis = await exposing(dockerd, "regtest/redis", [6379]);
  type Scope = { procs: Proc[]; names: string[]; emulators: ConsulEmulator[] };
  const newScope = (): Scope => ({ procs: [], names: [], emulators: [] });
  const fileScope = newScope();
  let testScope: Scope | undefined;
  const scope = () => testScope ?? fileScope;
  const release = async (s: Scope) => {
    for (const p of s.procs.splice(0)) await p.stop();
    const names = s.names.splice(0);
    if (names.length) await dockerd.docker(["rm", "-f", ...names]).catch(() => "");
    for (const emu of s.emulators.splice(0)) await emu.stop();
  };
  return {
    dockerd,
    redis,
    async registrator(args, opts = {}) {
      const http = args.some((a) => /^--?http(=|$)/.test(a)) ? [] : ["-http", `127.0.0.1:${await freePort()}`];
      const p = await startRegistrator([...http, ...args], {
        dockerHost: dockerd.host,
        env: opts.env,
        ready: opts.ready === null ? undefined : (opts.ready ?? /Connected to Docker/),
        readyTimeout: 30_000,
      });
      scope().procs.push(p);
      if (opts.ready === undefined) await waitForHttpApi(p, [...http, ...args]);
      return p;
    },
    async redisContainer(extra = [], prefix = "redis") {
      const name = uniqueName(prefix);
      scope().names.push(name);
      const id = await dockerd.docker(["run", "-d", "-P", "--name", name, ...extra, redis, "sleep", "3600"]);
      return { name, id, port: await publishedPort(dockerd, name), serviceId: `${HOST}:${name}:6379` };
    },
    async emulator(opts = {}) {
      const emu = await startConsulEmulator(opts);
      scope().emulators.push(emu);
      return emu;
    },
    beginTest() {
      testScope = newScope();
    },
    async endTest() {
      const s = testScope;
      testScope = undefined;
      if (s) await release(s);
    },
    async cleanup() {
      if (testScope) await release(testScope);
      await release(fileScope);
    },
  };
}

/**
 * A Consul test file's fixture, like e2eFile(): consulE2e() ready in beforeAll, what a test starts
 * ends with it (beginTest/endTest around each test), what a beforeAll starts ends with the file.
 */
export function consulE2eFile(): ConsulE2e {
  let e: ConsulE2e | undefined;
  const get = (): ConsulE2e => {
    if (!e) throw new Error("consulE2eFile() used before beforeAll ran");
    return e;
  };
  beforeAll(async () => {
    e = await consulE2e();
  });
  afterAll(async () => {
    await e?.cleanup();
  });
  beforeEach(() => get().beginTest());
  afterEach(() => get().endTest());
  return {
    get dockerd() {
      return get().dockerd;
    },
    get redis() {
      return get().redis;
    },
    registrator: (args, opts) => get().registrator(args, opts),
    redisContainer: (extra, prefix) => get().redisContainer(extra, prefix),
    emulator: (opts) => get().emulator(opts),
    beginTest: () => get().beginTest(),
    endTest: () => get().endTest(),
    cleanup: () => get().cleanup(),
  };
}

/** The host port of a container's published port, from docker inspect. */
export async function publishedPort(dockerd: Dockerd, name: string, port = "6379/tcp"): Promise<number> {
  const inspect = await dockerd.json(`/containers/${name}/json`);
  const bindings = inspect.NetworkSettings?.Ports?.[port] as Array<{ HostIp: string; HostPort: string }> | null | undefined;
  const hostPort = Number(bindings?.[0]?.HostPort);
  if (!hostPort) throw new Error(`Container ${name} has no published ${port}: ${JSON.stringify(inspect.NetworkSettings?.Ports)}`);
  return hostPort;
}

/** The bodies of the PUT /v1/agent/service/register requests for `id` that the agent accepted, oldest first. */
export function registerBodies(emu: ConsulEmulator, id: string): Array<Record<string, any>> {
  return emu.requests
    .filter((r) => r.method === "PUT" && r.path === "/v1/agent/service/register" && r.status === 200)
    .map((r) => JSON.parse(r.body) as Record<string, any>)
    .filter((b) => b.ID === id);
}

/** The checks the agent holds for a service, by CheckID. */
export function checksOf(emu: ConsulEmulator, serviceId: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(emu.checks()).filter(([, c]) => c.ServiceID === serviceId));
}

/** Waits for a process to exit within `timeout` ms; resolves with its exit code. */
export async function exitWithin(p: Proc, timeout: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.describe()} still running after ${timeout} ms; last lines:\n${p.tail()}`)), timeout);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lines of a registrator's output from `from` on that match re. */
export function linesMatching(p: Proc, re: RegExp, from = 0): string[] {
  return p.lines.slice(from).filter((l) => re.test(l));
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
