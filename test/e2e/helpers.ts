// Shared pieces of the end-to-end tests: a dockerd, an etcd, a registrator child process, and
// container helpers that clean up after themselves.
import { afterAll, beforeAll } from "bun:test";
import { hostname } from "node:os";
import { sharedDockerd, type Dockerd } from "../support/docker.ts";
import { startEtcd, type Etcd } from "../support/etcd.ts";
import { freePort, onTestRunEnd, waitFor, type Proc } from "../support/proc.ts";
import { startRegistrator, type RegistratorRuntime } from "../support/registrator.ts";

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
  const httpPort = await freePort();
  const withHttp = args.some((a) => /^--?http(=|$)/.test(a)) ? args : ["-http", `127.0.0.1:${httpPort}`, ...args];
  return startRegistrator(withHttp, {
    dockerHost: e.dockerd.host,
    runtime: opts.runtime,
    env: opts.env,
    ready: opts.ready ?? /Connected to Docker/,
    readyTimeout: 30_000,
  });
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
 * containers started through it, which are stopped and removed after the file.
 */
export function e2eFile() {
  let env: Env | undefined;
  const procs: Proc[] = [];
  const names: string[] = [];
  beforeAll(async () => {
    env = await e2eEnv();
  });
  afterAll(async () => {
    for (const p of procs) await p.stop();
    if (env) await rmf(env, ...names);
  });
  const file = {
    get e(): Env {
      if (!env) throw new Error("e2eFile() used before beforeAll ran");
      return env;
    },
    /** registrator with these args (an -http on a free port unless given); stopped after the file. */
    async registrator(args: string[], opts?: Parameters<typeof registrator>[2]): Promise<Proc> {
      const p = await registrator(file.e, args, opts);
      procs.push(p);
      return p;
    },
    /** docker run -d --name <unique> [args] image [cmd]; removed after the file. */
    async container(args: string[] = [], cmd?: string[], prefix = "c"): Promise<string> {
      const name = uniqueName(prefix);
      names.push(name);
      await run(file.e, ["--name", name, ...args], cmd);
      return name;
    },
    /** Mark a container started some other way for removal after the file. */
    track(name: string): void {
      names.push(name);
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
