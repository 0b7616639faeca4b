// The one grammar for addresses registrator reads: host[:port] (-http, DOCKER_HOST, registry URIs,
// CONSUL_HTTP_ADDR, host:port values in etcd) and scheme://authority/path?query URIs. Callers
// turn a failure into their own message (ConfigError for flags and URIs, DockerError for
// DOCKER_HOST), so each keeps saying what would have been valid in its own terms.

export interface HostPort {
  /** A host name, IPv4 address, or IPv6 address without brackets (possibly with a %zone). */
  host: string;
  port: number;
}

/** Which part of the text is wrong: the host, or the port (with its text, "" when missing). */
export type HostPortError = { error: "host" } | { error: "port"; portText: string };

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const V6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9_.-]+)?$/;

export interface HostPortOptions {
  /** Port when the text has none; without it a port is required. */
  defaultPort?: number;
  /** Host when the text has none (":8485"); without it a host is required. */
  defaultHost?: string;
  /** Smallest valid port (default 1; a listener may take 0 for "any free port"). */
  minPort?: number;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` (per the options) → {host, port}, or what is wrong. */
export function parseHostPort(text: string, o: HostPortOptions = {}): HostPort | HostPortError {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::(.*))?$/s.exec(text);
  if (!m) return { error: "host" };
  let host = m[1] ?? m[2] ?? "";
  if (m[1] === undefined && host === "" && o.defaultHost !== undefined) host = o.defaultHost;
  else if (m[1] !== undefined ? !V6.test(host) : !NAME.test(host)) return { error: "host" };
  const portText = m[3];
  // An IPv6 address without brackets: the port cannot be told from the address.
  if (portText?.includes(":")) return { error: "host" };
  if (portText === undefined) return o.defaultPort === undefined ? { error: "port", portText: "" } : { host, port: o.defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= (o.minPort ?? 1) && port <= 65535)) return { error: "port", portText };
  return { host, port };
}

export function isHostPortError(r: HostPort | HostPortError): r is HostPortError {
  return "error" in r;
}

/** `host:port`, or `[v6]:port` for an IPv6 address. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Inverse of joinHostPort (a port is required); undefined when the text is not host:port. */
export function splitHostPort(text: string): HostPort | undefined {
  const r = parseHostPort(text);
  return isHostPortError(r) ? undefined : r;
}

export interface UriParts {
  /** Lower-cased. */
  scheme: string;
  /** What follows `//` up to the path, userinfo included; undefined when there is no `//` (`consul:`). */
  authority: string | undefined;
  /** The part of the authority before its last `@`, when there is one. */
  userinfo: string | undefined;
  /** The authority without its userinfo, e.g. `h1:p1,h2:p2` ("" when there is no authority). */
  hosts: string;
  /** As written (percent escapes kept). */
  path: string;
  /** After `?`, without the `?` ("" when none). */
  query: string;
  /** After `#`, undefined when there is none. */
  fragment: string | undefined;
}

/** `scheme:[//authority]path[?query][#fragment]` → its parts; undefined when the text has no scheme. */
export function splitUri(text: string): UriParts | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(text);
  if (!m) return undefined;
  const authority = m[2];
  const at = authority?.lastIndexOf("@") ?? -1;
  return {
    scheme: m[1]!.toLowerCase(),
    authority,
    userinfo: at < 0 ? undefined : authority!.slice(0, at),
    hosts: at < 0 ? (authority ?? "") : authority!.slice(at + 1),
    path: m[3] ?? "",
    query: m[4] ?? "",
    fragment: m[5],
  };
}
