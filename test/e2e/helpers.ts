// Shared pieces of the end-to-end tests: a dockerd, an etcd, a registrator child process, and
// container helpers that clean up after themselves.
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
