// A private Docker daemon per test run: vfs storage, no iptables, its own bridge and subnet, its
// own containerd under its exec-root, all in one temp dir. Several can run at once on one machine.
// A detached watchdog per daemon removes everything (daemon, bridge, mounts, temp dir) when stop()
// asks, or when the test process dies without asking (its stdin pipe closes).
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureImage } from "./image.ts";
import { readOr, reserveSubnet, type Subnet } from "./netlock.ts";
import { Proc, run, sharedInstance, skipUnless, spawn, waitFor } from "./proc.ts";

export interface Dockerd {
  /** Socket path ("" for a tcp:// daemon). */
  readonly socket: string;
  /** DOCKER_HOST value: unix:///…/docker.sock (or the external daemon's host). */
  readonly host: string;
  /** The busybox test image (see image.ts), already imported. */
  readonly image: string;
  /** True when the daemon was started by us (false for REGISTRATOR_TEST_DOCKER_HOST). */
  readonly owned: boolean;
  /** The bridge and its subnet (owned daemons only). */
  readonly bridge?: { name: string; gateway: string; subnet: string };
  /** Runs the docker CLI against this daemon; resolves with trimmed stdout, throws with stderr. */
  docker(args: string[], opts?: { stdin?: Uint8Array | string }): Promise<string>;
  /** fetch() against the Engine API, e.g. api("/v1.41/containers/json"). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** GET path and parse JSON; throws on a non-2xx status. */
  json<T = any>(path: string): Promise<T>;
  /** Stops the daemon only (data kept) and starts it again with the same settings. */
  restart(): Promise<void>;
  /** Stops the daemon, removes its bridge and temp dir. Idempotent. */
  stop(): Promise<void>;
  /** The daemon's log so far (owned daemons). */
  logs(): string;
}

const DOCKERD = process.env.REGISTRATOR_TEST_DOCKERD ?? "/usr/sbin/dockerd";
const NET_LOCKS = join(tmpdir(), "registrator-test-nets");

/** The docker CLI: REGISTRATOR_TEST_DOCKER_CLI, else Debian's /usr/bin/docker, else docker on PATH. */
export function dockerCli(): string {
  const env = process.env.REGISTRATOR_TEST_DOCKER_CLI;
  if (env) return env;
  if (existsSync("/usr/bin/docker")) return "/usr/bin/docker";
  const found = Bun.which("docker");
  if (!found) throw new Error("Cannot find the docker CLI: install docker.io");
  return found;
}

// Runs on stop() or when our stdin closes (test process gone). Kills only PIDs from pidfiles in
// our own dir whose command line names that dir; polls with a deadline, never sleeps blindly.
const WATCHDOG = String.raw`
dir=$1; br=$2; lock=$3
read -r _ || true
ours() { [ -n "$1" ] && tr '\0' ' ' < /proc/$1/cmdline 2>/dev/null | grep -qF -- "$dir/"; }
stop_pidfile() {
  pid=$(cat "$1" 2>/dev/null) || return 0
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null; i=0
  while ours "$pid" && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  ours "$pid" && kill -KILL "$pid" 2>/dev/null; i=0
  while ours "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
}
stop_pidfile "$dir/docker.pid"
stop_pidfile "$dir/exec/containerd/containerd.pid"
awk -v d="$dir/" 'index($2, d) == 1 || $2 == substr(d, 1, length(d) - 1) { print $2 }' /proc/self/mounts | sort -r |
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
ip link del "$br" 2>/dev/null
rm -rf "$dir" && rm -rf "$lock"
`;

type Net = Subnet;

/** Reserves a free 10.213.N.0/24 (see netlock.ts) and creates its bridge. */
async function allocateNet(): Promise<Net> {
  const net = await reserveSubnet({
    locks: NET_LOCKS,
    octet: 213,
    indexes: [...Array(256).keys()],
    bridge: (i) => `regt${i}`,
    pidFile: "docker.pid",
    what: "dockerd",
    reclaim(dir, bridge) {
      if (dir.startsWith(join(tmpdir(), "regtest-dockerd-")) && existsSync(dir)) {
        Bun.spawnSync(["sh", "-c", WATCHDOG, "reclaim", dir, bridge, "/nonexistent"], { stdin: new TextEncoder().encode("stop\n") });
      }
    },
  });
  await run(["ip", "link", "add", net.bridge, "type", "bridge"]);
  await run(["ip", "addr", "add", `${net.gateway}/24`, "dev", net.bridge]);
  await run(["ip", "link", "set", net.bridge, "up"]);
  return net;
}

function unixApi(socket: string) {
  return (path: string, init?: RequestInit) => fetch(`http://localhost${path}`, { ...init, unix: socket } as RequestInit);
}

function makeHandle(host: string, parts: Pick<Dockerd, "owned" | "restart" | "stop" | "logs" | "bridge">): Omit<Dockerd, "image"> {
  const socket = host.startsWith("unix://") ? host.slice("unix://".length) : "";
  const base = host.replace(/^tcp:/, "http:");
  const api = socket ? unixApi(socket) : (path: string, init?: RequestInit) => fetch(base + path, init);
  const env = { ...process.env, DOCKER_HOST: host } as Record<string, string | undefined>;
  delete env.DOCKER_CONTEXT;
  return {
    socket, host, api, ...parts,
    docker: async (args, opts) => (await run([dockerCli(), ...args], { env, stdin: opts?.stdin })).trim(),
    json: async (path) => {
      const res = await api(path);
      const text = await res.text();
      if (!res.ok) throw new Error(`Docker API GET "${path}" failed: ${res.status} ${text.trim()}`);
      return JSON.parse(text);
    },
  };
}

async function waitForPing(api: Dockerd["api"], timeout: number, proc?: Proc, log = ""): Promise<void> {
  const ping = waitFor(async () => (await (await api("/_ping")).text()) === "OK", { timeout, interval: 50, message: `Docker daemon did not answer /_ping` });
  if (!proc) return void (await ping);
  const died = proc.exited.then((code) => {
    throw new Error(`dockerd exited with code ${code} during startup:\n${readOr(log, "").split("\n").slice(-15).join("\n")}`);
  });
  await Promise.race([ping, died]);
}

/** Starts a private dockerd (root needed), imports the test image. */
export async function startDockerd(opts: { startTimeout?: number } = {}): Promise<Dockerd> {
  if (process.getuid?.() !== 0) throw new Error("Cannot start dockerd: tests must run as root");
  if (!existsSync(DOCKERD)) throw new Error(`Cannot start dockerd: "${DOCKERD}" not found (install docker.io)`);
  const timeout = opts.startTimeout ?? 60_000;
  const net = await allocateNet();
  const dir = mkdtempSync(join(tmpdir(), "regtest-dockerd-"));
  const log = join(dir, "dockerd.log");
  writeFileSync(join(net.lock, "dir"), dir);
  const watchdog = Bun.spawn(["sh", "-c", WATCHDOG, "watchdog", dir, net.bridge, net.lock], {
    stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true,
  });
  watchdog.unref();
  writeFileSync(join(net.lock, "owner"), String(watchdog.pid));
  const ns = `regtest-${net.index}-${process.pid}`;
  const args = [
    DOCKERD, "--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
    "-H", `unix://${dir}/docker.sock`, "--data-root", `${dir}/data`, "--exec-root", `${dir}/exec`,
    "--pidfile", `${dir}/docker.pid`, "--bridge", net.bridge, "--init",
    "--default-address-pool", `base=10.214.${net.index}.0/24,size=28`,
    "--containerd-namespace", ns, "--containerd-plugins-namespace", `${ns}-plugins`,
  ];
  let proc: Proc | undefined;
  let stopped = false;
  const launch = async () => {
    const env = { ...process.env };
    delete env.DOCKER_HOST;
    delete env.NOTIFY_SOCKET;
    proc = spawn(args, { env, logFile: log });
    await waitForPing(handle.api, timeout, proc, log);
  };
  const handle = makeHandle(`unix://${dir}/docker.sock`, {
    owned: true,
    bridge: { name: net.bridge, gateway: net.gateway, subnet: net.subnet },
    logs: () => readOr(log, ""),
    restart: async () => {
      if (stopped) throw new Error("Cannot restart a stopped dockerd");
      await proc?.stop("SIGTERM", 60_000);
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await proc?.stop("SIGTERM", 60_000);
      watchdog.stdin.write("stop\n");
      watchdog.stdin.flush();
      await watchdog.exited;
      if (existsSync(dir)) throw new Error(`Cannot remove the dockerd dir "${dir}"`);
    },
  });
  try {
    await launch();
    return { ...handle, image: await ensureImage(handle) };
  } catch (err) {
    await handle.stop().catch(() => {});
    throw err;
  }
}

/** A daemon we did not start (REGISTRATOR_TEST_DOCKER_HOST, or DOCKER_HOST with REGISTRATOR_TEST_USE_DOCKER_HOST=1). */
export function externalDockerHost(): string | undefined {
  const explicit = process.env.REGISTRATOR_TEST_DOCKER_HOST;
  if (explicit) return explicit;
  if (process.env.REGISTRATOR_TEST_USE_DOCKER_HOST === "1" && process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  return undefined;
}

export async function connectDockerd(host: string): Promise<Dockerd> {
  const unsupported = (what: string) => async () => {
    throw new Error(`Cannot ${what} an external Docker daemon (${host})`);
  };
  const handle = makeHandle(host, { owned: false, restart: unsupported("restart"), stop: async () => {}, logs: () => "" });
  await waitForPing(handle.api, 10_000);
  return { ...handle, image: await ensureImage(handle) };
}

/** One daemon per test process, started on first use and removed after the last test file. */
export const sharedDockerd: () => Promise<Dockerd> = sharedInstance(() => {
  const external = externalDockerHost();
  return external ? connectDockerd(external) : startDockerd();
});

/** Why Docker tests cannot run here, or false (always false under CI=true). */
export const dockerSkip: () => Promise<string | false> = skipUnless("Docker", sharedDockerd);
