// Which host name goes into service IDs, -cleanup ownership and the embedded registry's node
// (parity "-hostname"): -hostname, else the OS host name, except inside a container whose host
// name is its own container ID (no --net=host, no -h): that name changes with every re-create
// and would strand the old entries, so the engine's host name is used. I/O is injected.

import { errorMessage } from "./errors.ts";
import { Backoff, retry } from "./retry.ts";
import type { DockerClient } from "./docker/client.ts";
import type { Runtime } from "./runtime/types.ts";
import type { Logger } from "./types.ts";

export interface HostnameIo {
  /** The OS host name (node:os hostname()). */
  osHostname: string;
  /** A file's text; rejects when it cannot be read (not Linux, no /proc). */
  readFile(path: string): Promise<string>;
  /** The engine's host name, `GET /info` → `Name`. */
  engineName(): Promise<string>;
  /** Inspect a container by ID: its full ID and host name, or null when the engine has none such. */
  inspect(id: string): Promise<{ id: string; hostname: string } | null>;
}

/** Docker gives a container the first 12 hex digits of its ID as host name unless told otherwise. */
const SHORT_ID = /^[0-9a-f]{12}$/;

/** Where a container sees its own full ID: the bind mounts of /etc/hostname & co., its cgroup path. */
const SELF_FILES = ["/proc/self/mountinfo", "/proc/self/cgroup"];

/**
 * Why `name` is this process's own container ID, or undefined when it is not (as far as can be
 * told): a 64-hex ID starting with it in our mounts or cgroup, else the engine's inspect of it.
 */
export async function ownContainerProof(name: string, io: HostnameIo): Promise<string | undefined> {
  if (!SHORT_ID.test(name)) return undefined;
  const full = new RegExp(`(?<![0-9a-f])${name}[0-9a-f]{52}(?![0-9a-f])`);
  for (const path of SELF_FILES) {
    const text = await io.readFile(path).catch(() => "");
    if (full.test(text)) return `it is the start of the container ID in ${path}`;
  }
  const c = await io.inspect(name).catch(() => null);
  if (c && c.id.startsWith(name) && c.hostname === name) return "the engine has a container with that ID and host name";
  return undefined;
}

/**
 * The host name registrator uses; logs the choice when it is not simply the OS host name. The
 * engine's name is waited for (with backoff, a warning each time) while Docker does not answer:
 * a fallback to the container ID would write entries that the next re-create strands.
 */
export async function chooseHostname(flag: string, io: HostnameIo, log: Logger, signal?: AbortSignal): Promise<string> {
  if (flag) return flag;
  const os = io.osHostname;
  const proof = await ownContainerProof(os, io);
  if (!proof) return os;
  const name = await retry(() => io.engineName(), {
    retries: -1,
    delay: new Backoff({ minMs: 500, maxMs: 10_000 }),
    signal,
    onRetry: (e, _attempt, ms) => log.warn(`Cannot read the Docker engine's host name (for service IDs): ${errorMessage(e)}; retrying in ${ms} ms`),
  });
  log.info(
    `Using the Docker engine's host name "${name}" (GET /info) in service IDs: this container's own host name "${os}" is its container ID (${proof}), ` +
      "which changes when the container is re-created; set -hostname to choose another",
  );
  return name;
}

/** The I/O chooseHostname needs, from the runtime (files) and the Docker client (engine). */
export function hostnameIo(osHostname: string, rt: Pick<Runtime, "readTextFile">, docker: Pick<DockerClient, "info" | "inspect">): HostnameIo {
  return {
    osHostname,
    readFile: (path) => rt.readTextFile(path),
    engineName: async () => (await docker.info()).name,
    inspect: async (id) => {
      const c = await docker.inspect(id);
      return c ? { id: c.Id, hostname: c.Config.Hostname ?? "" } : null;
    },
  };
}
