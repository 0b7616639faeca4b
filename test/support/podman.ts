// A private rootful Podman API service per test run (`podman system service`), speaking Docker's
// API on its own unix socket: vfs storage, cgroupfs, file-backed events, file locks, its own
// containers.conf/storage.conf/registries.conf, and its own bridge network (10.217.N.0/24 on
// regpN) so that it coexists with the test dockerd (10.213/10.214) and with other Podman test
// services. Everything lives in one temp dir. A detached watchdog removes containers, service,
// mounts, bridge and dir when stop() asks, or when the test process dies without asking.
//
// Global state that Podman itself keeps outside the dir (shared by every rootful Podman, keyed so
// that instances do not collide): netavark's IPAM db in /run/containers/networks (keyed by network
// name), network namespaces in /run/netns (one per container, removed with it), runc state in
// /run/runc (by container ID), the image blob-info cache in /var/lib/containers/cache, and
// netavark's shared iptables chains (NETAVARK-*, left in place: other Podman users need them).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRootTar } from "./image.ts";
import { readOr, reserveSubnet, type Subnet } from "./netlock.ts";
import { Proc, run, sharedInstance, skipUnless, spawn, waitFor } from "./proc.ts";

export interface Podman {
  /** The temp dir holding everything of this instance. */
  readonly dir: string;
  /** The API socket path. */
  readonly socket: string;
  /** DOCKER_HOST value: unix:///…/podman.sock. */
  readonly host: string;
  /** The busybox test image (see image.ts), imported; Podman's full name (localhost/…). */
  readonly image: string;
  /** Its default network: containers run without --network join it. */
  readonly network: { name: string; bridge: string; gateway: string; subnet: string; backend: "netavark" | "cni" };
  /** The service's current PID. */
  readonly pid: number;
  /** Runs the podman CLI with this instance's settings; resolves with trimmed stdout, throws with stderr. */
  podman(args: string[], opts?: { stdin?: Uint8Array | string }): Promise<string>;
  /** fetch() against the service, e.g. api("/v1.41/containers/json"). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** GET path and parse JSON; throws on a non-2xx status. */
  json<T = any>(path: string): Promise<T>;
  /** The service's log so far. */
  logs(): string;
  /** Stops the service only (containers keep running under conmon) and starts it again. */
  restart(): Promise<void>;
  /** Removes its containers, stops the service, removes bridge, mounts and dir. Idempotent. */
  stop(): Promise<void>;
}

const PODMAN = process.env.REGISTRATOR_TEST_PODMAN ?? "/usr/bin/podman";
const NETAVARK_PATHS = ["/usr/lib/podman/netavark", "/usr/libexec/podman/netavark", "/usr/local/libexec/podman/netavark"];
const CNI_DIRS = ["/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin"];
const NET_LOCKS = join(tmpdir(), "registrator-test-podman-nets");
const DIR_PREFIX = "regtest-podman-";
export const PODMAN_TEST_IMAGE = "localhost/regtest/busybox:latest";

// Runs on stop() or when our stdin closes (test process gone); gets the podman environment.
// 1. `podman rm -af -t 0` with our settings: stops containers, tears down their netns/firewall.
// 2. Kills only PIDs from pidfiles in our own dir: the service (cmdline must name our dir), each
//    container's conmon (cmdline names our dir) and, only if rm failed, each container via runc.
// 3. Unmounts what is mounted under the dir, deletes our bridge, removes dir and lock.
const WATCHDOG = String.raw`
dir=$1; br=$2; lock=$3; podman=$4
read -r _ || true
P="$podman --root $dir/root --runroot $dir/runroot --storage-driver vfs"
ours() { [ -n "$1" ] && tr '\0' ' ' < /proc/$1/cmdline 2>/dev/null | grep -qF -- "$dir/"; }
stop_pid() {
  pid=$1; sig=$2
  ours "$pid" || return 0
  kill -"$sig" "$pid" 2>/dev/null; i=0
  while ours "$pid" && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  ours "$pid" && kill -KILL "$pid" 2>/dev/null; i=0
  while ours "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
}
if [ -d "$dir/root" ]; then
  timeout 120 $P rm -a -f -t 0 >/dev/null 2>&1 || rmfailed=1
fi
[ -f "$dir/service.pid" ] && stop_pid "$(cat "$dir/service.pid")" TERM
for u in "$dir"/runroot/vfs-containers/*/userdata; do
  [ -d "$u" ] || continue
  id=$(basename "$(dirname "$u")")
  if [ -n "$rmfailed" ]; then
    runc delete --force "$id" >/dev/null 2>&1
    timeout 60 $P rm -f -t 0 "$id" >/dev/null 2>&1
  fi
  [ -f "$u/conmon.pid" ] && stop_pid "$(cat "$u/conmon.pid")" KILL
done
awk -v d="$dir/" 'index($2, d) == 1 || $2 == substr(d, 1, length(d) - 1) { print $2 }' /proc/self/mounts | sort -r |
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
ip link del "$br" 2>/dev/null
rm -rf "$dir" && rm -rf "$lock"
`;

interface Net extends Subnet {
  /** Podman network name. */
  name: string;
}

/** Reserves a free 10.217.N.0/24 (see netlock.ts); the bridge is netavark's/CNI's to create. */
async function allocateNet(): Promise<Net> {
  const net = await reserveSubnet({
    locks: NET_LOCKS,
    octet: 217,
    indexes: [...Array(254).keys()].map((i) => i + 1),
    bridge: (i) => `regp${i}`,
    pidFile: "service.pid",
    what: "podman",
    reclaim(dir, bridge) {
      if (dir.startsWith(join(tmpdir(), DIR_PREFIX)) && existsSync(dir)) {
        Bun.spawnSync(["sh", "-c", WATCHDOG, "reclaim", dir, bridge, "/nonexistent", PODMAN], {
          stdin: new TextEncoder().encode("stop\n"), env: podmanEnv(dir),
        });
      }
    },
  });
  return { ...net, name: `regtest-podman-${net.index}` };
}

/** The environment every podman process of this instance runs with. */
function podmanEnv(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === "NOTIFY_SOCKET" || k === "DOCKER_HOST" || k === "CONTAINER_HOST" || k.startsWith("CONTAINERS_")) continue;
    env[k] = v;
  }
  return Object.assign(env, {
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(dir, "registries.conf"),
    XDG_RUNTIME_DIR: join(dir, "xdg", "run"),
    XDG_CONFIG_HOME: join(dir, "xdg", "config"),
    XDG_DATA_HOME: join(dir, "xdg", "data"),
    XDG_CACHE_HOME: join(dir, "xdg", "cache"),
    TMPDIR: join(dir, "tmp"),
  });
}

function toml(s: string): string {
  return JSON.stringify(s);
}

function findFirst(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function chooseBackend(): "netavark" | "cni" {
  const wanted = process.env.REGISTRATOR_TEST_PODMAN_NETWORK;
  if (wanted === "netavark" || wanted === "cni") return wanted;
  if (findFirst(NETAVARK_PATHS)) return "netavark";
  if (CNI_DIRS.some((d) => existsSync(join(d, "bridge")))) return "cni";
  throw new Error("Cannot start podman: neither netavark nor the CNI plugins are installed");
}

/** Writes containers.conf, storage.conf, registries.conf and the network definition. */
function writeConfig(dir: string, net: Net, backend: "netavark" | "cni"): void {
  for (const sub of ["root", "runroot", "tmp", "networks", "volumes", "cni", "xdg/run", "xdg/config", "xdg/data", "xdg/cache"]) {
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  }
  const path = process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  writeFileSync(join(dir, "containers.conf"), [
    "[containers]",
    // Setting rlimits is not permitted in these sandboxes; Podman's default sets RLIMIT_NOFILE/NPROC.
    "default_ulimits = []",
    'netns = "bridge"',
    'log_driver = "k8s-file"',
    "",
    "[engine]",
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = ${toml(join(dir, "events.log"))}`,
    // File locks under tmp_dir instead of the shared /dev/shm/libpod_lock segment.
    'lock_type = "file"',
    `tmp_dir = ${toml(join(dir, "tmp"))}`,
    `volume_path = ${toml(join(dir, "volumes"))}`,
    `image_copy_tmp_dir = ${toml(join(dir, "tmp"))}`,
    // conmon runs `podman container cleanup` when a container exits: give it our config too.
    `conmon_env_vars = [${toml(`PATH=${path}`)}, ${toml(`CONTAINERS_CONF=${join(dir, "containers.conf")}`)}, ${toml(`CONTAINERS_STORAGE_CONF=${join(dir, "storage.conf")}`)}]`,
    ...(existsSync("/usr/bin/crun") ? [] : ['runtime = "runc"']),
    "",
    "[network]",
    `network_backend = ${toml(backend)}`,
    `network_config_dir = ${toml(join(dir, "networks"))}`,
    `default_network = ${toml(net.name)}`,
    `default_subnet = ${toml(net.subnet)}`,
    "",
  ].join("\n"));
  writeFileSync(join(dir, "storage.conf"), [
    "[storage]",
    'driver = "vfs"',
    `graphroot = ${toml(join(dir, "root"))}`,
    `runroot = ${toml(join(dir, "runroot"))}`,
    "",
  ].join("\n"));
  // No search registries: a short name that is not local fails instead of reaching out.
  writeFileSync(join(dir, "registries.conf"), 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
  if (backend === "netavark") {
    writeFileSync(join(dir, "networks", `${net.name}.json`), JSON.stringify({
      name: net.name,
      id: new Bun.CryptoHasher("sha256").update(`${dir}|${net.name}`).digest("hex"),
      driver: "bridge",
      network_interface: net.bridge,
      created: new Date().toISOString(),
      subnets: [{ subnet: net.subnet, gateway: net.gateway }],
      ipv6_enabled: false,
      internal: false,
      dns_enabled: false,
      ipam_options: { driver: "host-local" },
    }, null, 2));
  } else {
    writeFileSync(join(dir, "networks", `${net.name}.conflist`), JSON.stringify({
      cniVersion: "0.4.0",
      name: net.name,
      plugins: [
        {
          type: "bridge", bridge: net.bridge, isGateway: true, ipMasq: true, hairpinMode: true,
          ipam: {
            type: "host-local", dataDir: join(dir, "cni"), routes: [{ dst: "0.0.0.0/0" }],
            ranges: [[{ subnet: net.subnet, gateway: net.gateway }]],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "firewall" },
        { type: "tuning" },
      ],
    }, null, 2));
  }
}

function unixApi(socket: string) {
  return (path: string, init?: RequestInit) => fetch(`http://localhost${path}`, { ...init, unix: socket } as RequestInit);
}

/** Starts a private rootful Podman API service (root needed) and imports the test image. */
export async function startPodman(opts: { startTimeout?: number } = {}): Promise<Podman> {
  if (process.getuid?.() !== 0) throw new Error("Cannot start podman: tests must run as root");
  if (!existsSync(PODMAN)) throw new Error(`Cannot start podman: "${PODMAN}" not found (install podman)`);
  const timeout = opts.startTimeout ?? 60_000;
  const backend = chooseBackend();
  const net = await allocateNet();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(net.lock, "dir"), dir);
  const env = podmanEnv(dir);
  const watchdog = Bun.spawn(["sh", "-c", WATCHDOG, "watchdog", dir, net.bridge, net.lock, PODMAN], {
    stdin: "pipe", stdout: "ignore", stderr: "ignore", detached: true, env,
  });
  watchdog.unref();
  writeFileSync(join(net.lock, "owner"), String(watchdog.pid));

  const socket = join(dir, "podman.sock");
  const log = join(dir, "service.log");
  const global = ["--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--storage-driver", "vfs"];
  const api = unixApi(socket);
  let proc: Proc | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The watchdog removes the containers first (they outlive the service under conmon), then
    // stops the service by the PID in service.pid.
    watchdog.stdin.write("stop\n");
    watchdog.stdin.flush();
    await watchdog.exited;
    if (proc?.running) await proc.stop("SIGKILL");
    if (existsSync(dir)) throw new Error(`Cannot remove the podman dir "${dir}"`);
  };
  const launch = async () => {
    const service = spawn([PODMAN, ...global, "system", "service", "--time=0", `unix://${socket}`], { env, logFile: log });
    proc = service;
    writeFileSync(join(dir, "service.pid"), String(service.pid));
    const ping = waitFor(async () => (await (await api("/_ping")).text()) === "OK", {
      timeout, interval: 50, message: "Podman service did not answer /_ping",
    });
    const died = service.exited.then((code) => {
      throw new Error(`podman system service exited with code ${code} during startup:\n${readOr(log, "").split("\n").slice(-15).join("\n")}`);
    });
    await Promise.race([ping, died]);
  };
  try {
    writeConfig(dir, net, backend);
    await launch();
    const podman = async (args: string[], o?: { stdin?: Uint8Array | string }) =>
      (await run([PODMAN, ...global, ...args], { env, stdin: o?.stdin })).trim();
    await podman(["import", "--change", 'CMD ["/bin/sh"]', "-", PODMAN_TEST_IMAGE], { stdin: await buildRootTar() });
    return {
      dir, socket, host: `unix://${socket}`, image: PODMAN_TEST_IMAGE,
      get pid() {
        return proc!.pid;
      },
      network: { name: net.name, bridge: net.bridge, gateway: net.gateway, subnet: net.subnet, backend },
      podman, api, stop,
      restart: async () => {
        if (stopped) throw new Error("Cannot restart a stopped podman service");
        const code = await proc!.stop("SIGTERM", 30_000);
        if (code !== 0 && code !== 143) throw new Error(`podman system service exited with code ${code} on SIGTERM`);
        await launch();
      },
      json: async (path) => {
        const res = await api(path);
        const text = await res.text();
        if (!res.ok) throw new Error(`Podman API GET "${path}" failed: ${res.status} ${text.trim()}`);
        return JSON.parse(text);
      },
      logs: () => readOr(log, ""),
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** One Podman service per test process, started on first use and removed after the last test file. */
export const sharedPodman: () => Promise<Podman> = sharedInstance(() => startPodman());

/** Why Podman tests cannot run here, or false (always false under CI=true). */
export const podmanSkip: () => Promise<string | false> = skipUnless("Podman", sharedPodman);
