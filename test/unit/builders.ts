// Test builders: realistic `GET /containers/{id}/json` objects (shape per protocols.md 1.3, as
// Docker 20.10 sends them), validated against the shared schema.

import { ContainerInspect } from "../../src/docker/schema.ts";

type Binding = { HostIp?: string; HostPort: string };

export interface ContainerSpec {
  /** Full 64-hex ID; default derived from the name. */
  id?: string;
  /** Without the leading slash. */
  name?: string;
  /** Config.Image; null for "absent". */
  image?: string | null;
  /** `{K: V}` or raw `["K=V"]` entries; empty → Config.Env null (as Docker sends it). */
  env?: Record<string, string> | string[];
  labels?: Record<string, string>;
  /** NetworkSettings.Ports: published bindings (null: exposed, not published). */
  ports?: Record<string, Binding[] | null>;
  /** Extra Config.ExposedPorts keys (EXPOSE without -p). */
  exposed?: string[];
  /** HostConfig.NetworkMode; default "default" (the default bridge). */
  networkMode?: string;
  /** NetworkSettings.Networks; default follows the network mode. */
  networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }>;
  /** Legacy NetworkSettings.IPAddress; default the bridge IP on the default bridge. */
  ipAddress?: string;
  hostname?: string;
  state?: { Status?: string; Running?: boolean; ExitCode?: number };
}

export const BRIDGE_IP = "172.17.0.2";
export const USER_NET_IP = "172.18.0.5";

function endpoint(network: string, ip: string, v6 = "") {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: network === "bridge" ? null : ["web"],
    NetworkID: `${network}-0123456789abcdef`.padEnd(64, "0"),
    EndpointID: "e".repeat(64),
    Gateway: ip ? ip.replace(/\.\d+$/, ".1") : "",
    IPAddress: ip,
    IPPrefixLen: ip ? 16 : 0,
    IPv6Gateway: "",
    GlobalIPv6Address: v6,
    GlobalIPv6PrefixLen: v6 ? 64 : 0,
    MacAddress: ip ? "02:42:ac:11:00:02" : "",
    DriverOpts: null,
  };
}

function defaultNetworks(mode: string): Record<string, ReturnType<typeof endpoint>> {
  if (mode === "default" || mode === "bridge") return { bridge: endpoint("bridge", BRIDGE_IP) };
  if (mode === "host" || mode === "none") return { [mode]: endpoint(mode, "") };
  if (mode.startsWith("container:")) return {};
  return { [mode]: endpoint(mode, USER_NET_IP) };
}

function hexId(seed: string): string {
  let h = "";
  for (let i = 0; h.length < 64; i++) h += ((seed.charCodeAt(i % seed.length) * 31 + i) % 256).toString(16).padStart(2, "0");
  return h.slice(0, 64);
}

export function container(spec: ContainerSpec = {}): ContainerInspect {
  const name = spec.name ?? "web1";
  const id = spec.id ?? hexId(name);
  const mode = spec.networkMode ?? "default";
  const env = Array.isArray(spec.env) ? spec.env : Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const published = spec.ports ?? {};
  const exposedKeys = [...new Set([...Object.keys(published), ...(spec.exposed ?? [])])];
  const sharesStack = mode === "host" || mode.startsWith("container:");
  const ports: Record<string, Binding[] | null> = {};
  if (!sharesStack) for (const k of exposedKeys) ports[k] = published[k] ?? null;
  const networks = spec.networks
    ? Object.fromEntries(Object.entries(spec.networks).map(([n, e]) => [n, endpoint(n, e.IPAddress ?? "", e.GlobalIPv6Address ?? "")]))
    : defaultNetworks(mode);
  const onDefaultBridge = mode === "default" || mode === "bridge";
  const raw = {
    Id: id,
    Created: "2026-11-27T10:00:00.000000000Z",
    Path: "/bin/sh",
    Args: ["-c", "httpd -f"],
    State: {
      Status: spec.state?.Status ?? "running",
      Running: spec.state?.Running ?? true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 4242,
      ExitCode: spec.state?.ExitCode ?? 0,
      Error: "",
      StartedAt: "2026-11-27T10:00:01.000000000Z",
      FinishedAt: "0001-01-01T00:00:00Z",
    },
    Image: `sha256:${"a".repeat(64)}`,
    Name: `/${name}`,
    RestartCount: 0,
    HostConfig: {
      NetworkMode: mode,
      PortBindings: Object.fromEntries(
        Object.entries(published)
          .filter(([, b]) => b !== null)
          .map(([k, b]) => [k, (b ?? []).map((x) => ({ HostIp: "", HostPort: x.HostPort }))]),
      ),
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    },
    Config: {
      Hostname: spec.hostname ?? id.slice(0, 12),
      Domainname: "",
      User: "",
      ExposedPorts: exposedKeys.length ? Object.fromEntries(exposedKeys.map((k) => [k, {}])) : undefined,
      Env: env.length ? env : null,
      Cmd: ["httpd", "-f"],
      Image: spec.image === undefined ? "nginx:latest" : spec.image,
      Labels: spec.labels ?? {},
    },
    NetworkSettings: {
      Bridge: "",
      SandboxID: "5".repeat(64),
      Ports: ports,
      IPAddress: spec.ipAddress ?? (onDefaultBridge ? BRIDGE_IP : ""),
      GlobalIPv6Address: "",
      Networks: networks,
    },
  };
  return ContainerInspect.parse(raw);
}

/** `{HostIp, HostPort}` bindings as Docker reports a published port on a dual-stack host. */
export function dualStack(hostPort: string): Binding[] {
  return [
    { HostIp: "0.0.0.0", HostPort: hostPort },
    { HostIp: "::", HostPort: hostPort },
  ];
}
