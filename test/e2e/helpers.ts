// Shared pieces of the end-to-end tests: a dockerd, an etcd, a registrator child process, and
// container helpers that clean up after themselves.
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { hostname } from "node:os";
import { sharedDockerd, type Dockerd } from "../support/docker.ts";
import { startEtcd, type Etcd } from "../support/etcd.ts";
import { freePort, onTestRunEnd, waitFor, type Proc } from "../support/proc.ts";
import { startRegistrator, waitForHttpApi, type RegistratorRuntime } from "../support/registrator.ts";

export const HOST = hostname();

let seq = 0;
/** A container name unique within this test run. */
export function uniqueName(prefix = "c"): string {
  return `${prefix}${process.pid}x${++seq}`;
}

export interface Env {
  dockerd: Dockerd;
  etcd: Etcd;
}

let env: Promise<Env> | undefined;

/** One dockerd and one etcd shared by the e2e files of a test run. */
export function e2eEnv(): Promise<Env> {
  env ??= (async () => {
    const [dockerd, etcd] = await Promise.all([sharedDockerd(), startEtcd()]);
    onTestRunEnd(() => etcd.stop());
    return { dockerd, etcd };
  })();
  return env;
}

export async function registrator(
  e: Env,
  args: string[],
  opts: { runtime?: RegistratorRuntime; env?: Record<string, string | undefined>; ready?: RegExp } = {},
): Promise<Proc> {
  // Port 0: the daemon binds a port the kernel picks and logs it (httpUrl reads it back).
  const withHttp = args.some((a) => /^--?http(=|$)/.test(a)) ? args : ["-http", "127.0.0.1:0", ...args];
  const p = await startRegistrator(withHttp, {
    dockerHost: e.dockerd.host,
    runtime: opts.runtime,
    env: opts.env,
    ready: opts.ready ?? /Connected to Docker/,
    readyTimeout: 30_000,
  });
  if (!opts.ready) await waitForHttpApi(p, withHttp);
  return p;
}

/** The base URL of a registrator's HTTP API, read back from its "HTTP API on …" log line. */
export async function httpUrl(p: Proc): Promise<string> {
  return (await p.waitForLine(/HTTP API on (http:\/\/\S+)/, 15_000))[1]!;
}

/** docker run -d …; returns the container ID. */
export async function run(e: Env, args: string[], cmd: string[] = ["sleep", "3600"]): Promise<string> {
  return (await e.dockerd.docker(["run", "-d", ...args, e.dockerd.image, ...cmd])).trim();
}

export async function rmf(e: Env, ...names: string[]): Promise<void> {
  if (names.length) await e.dockerd.docker(["rm", "-f", ...names]).catch(() => "");
}

/** Waits until the etcd key has the value (or is absent, for undefined). */
export async function keyIs(e: Env, key: string, value: string | undefined, timeout = 5000): Promise<void> {
  await waitFor(async () => (await e.etcd.get(key)) === value, {
    timeout,
    interval: 20,
    message: `etcd key ${key} never became ${value === undefined ? "absent" : JSON.stringify(value)}`,
  });
}

export async function keysUnder(e: Env, prefix: string): Promise<Record<string, string>> {
  const kvs = await e.etcd.range(prefix);
  return Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]));
}

/**
 * A test file's fixture: the shared dockerd and etcd (ready in beforeAll), and registrators and
 * containers started through it. What a test starts is stopped and removed when that test ends
 * (a registrator left running would register every later test's containers and write to the
 * shared registries meanwhile); what a beforeAll starts, when the file ends.
 */
export function e2eFile() {
  let env: Env | undefined;
  type Scope = { procs: Proc[]; names: string[] };
  const fileScope: Scope = { procs: [], names: [] };
  let testScope: Scope | undefined;
  const scope = () => testScope ?? fileScope;
  const release = async (s: Scope) => {
    for (const p of s.procs.splice(0)) await p.stop();
    const names = s.names.splice(0);
    if (env) await rmf(env, ...names);
  };
  beforeAll(async () => {
    env = await e2eEnv();
  });
  beforeEach(() => {
    testScope = { procs: [], names: [] };
  });
  afterEach(async () => {
    const s = testScope;
    testScope = undefined;
    if (s) await release(s);
  });
  afterAll(async () => {
    await release(fileScope);
  });
  const file = {
    get e(): Env {
      if (!env) throw new Error("e2eFile() used before beforeAll ran");
      return env;
    },
    /** registrator with these args (an -http on a free port unless given); stopped after the test (or the file, from a beforeAll). */
    async registrator(args: string[], opts?: Parameters<typeof registrator>[2]): Promise<Proc> {
      const p = await registrator(file.e, args, opts);
      scope().procs.push(p);
      return p;
    },
    /** docker run -d --name <unique> [args] image [cmd]; removed after the test (or the file, from a beforeAll). */
    async container(args: string[] = [], cmd?: string[], prefix = "c"): Promise<string> {
      const name = uniqueName(prefix);
      scope().names.push(name);
      await run(file.e, ["--name", name, ...args], cmd);
      return name;
    },
    /** Mark a container started some other way for removal like file.container's. */
    track(name: string): void {
      scope().names.push(name);
    },
    /** Mark a registrator started some other way to be stopped like file.registrator's. */
    trackProc(p: Proc): void {
      scope().procs.push(p);
    },
  };
  return file;
}

/** The core round trip: a container with -p registers in etcd under prefix; docker stop removes it. */
export async function startStopRoundTrip(file: ReturnType<typeof e2eFile>, prefix: string): Promise<void> {
  const port = await freePort();
  const name = await file.container(["-p", `${port}:6379`], undefined, "redis.");
  const key = `${prefix}/busybox/${HOST}:${name}:6379`;
  await keyIs(file.e, key, `127.0.0.1:${port}`);
  await file.e.dockerd.docker(["stop", "-t", "0", name]);
  await keyIs(file.e, key, undefined);
}
