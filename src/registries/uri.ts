// The registry URI, read once (registries/index.ts) and handed to the adapter whose scheme it names,
// as registrator hands a *url.URL to its factories. Also the checks every adapter shares: hosts
// with default ports, a key path that cannot leave its place, known ?options, one message shape.

import { ConfigError, RegistryError, redactSecrets } from "../errors.ts";
import { type HostPort, isHostPortError, parseHostPort, splitUri } from "../hostport.ts";
import type { RegistryUri } from "../types.ts";

export type { RegistryUri };

/** The URI for messages, with any password replaced (the same redaction as every log line). */
export function redactUri(uri: string): string {
  return redactSecrets(uri);
}

/** `Invalid registry URI "<uri>": <why>` (the URI redacted), as a ConfigError. */
export function uriError(uri: RegistryUri | string, why: string): ConfigError {
  return new ConfigError(`Invalid registry URI "${redactUri(typeof uri === "string" ? uri : uri.text)}": ${why}`);
}

/** `scheme:[//authority][/path][?query]` → its parts; ConfigError when there is no scheme at all. */
export function parseRegistryUri(text: string): RegistryUri {
  const trimmed = text.trim();
  const parts = splitUri(trimmed);
  if (!parts) {
    throw uriError(text, "expected <scheme>://<address>[/<path>], e.g. consul://127.0.0.1:8500 or etcd://127.0.0.1:2379/services");
  }
  return { ...parts, text: trimmed, params: new URLSearchParams(parts.query) };
}

// C0, DEL and C1 control characters.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A key-path backend's URI (etcd, SkyDNS 2, ZooKeeper): `scheme://h1:p1,h2:p2/path?opts`. */
export interface KeyPathUri {
  scheme: string;
  hosts: HostPort[];
  /** Decoded path, "" or "/a/b" (no trailing slash, no empty segments). */
  path: string;
  params: URLSearchParams;
}

/**
 * Checks a key-path URI; throws ConfigError naming the URI and the valid form. No hosts →
 * `defaultHost`. The path is percent-decoded and normalized; `.`/`..` segments are refused.
 */
export function keyPathUri(
  u: RegistryUri,
  o: { schemes: readonly string[]; defaultPort: number; defaultHost: string; form: string; params: readonly string[] },
): KeyPathUri {
  const bad = (why: string) => uriError(u, `${why}; expected ${o.form}`);
  if (u.authority === undefined) throw bad("not a URI");
  if (!o.schemes.includes(u.scheme)) throw bad(`scheme must be ${o.schemes.map((s) => `${s}://`).join(" or ")}`);
  if (u.userinfo !== undefined) throw bad("credentials do not belong in the URI");
  if (u.fragment !== undefined) throw bad("a #fragment is not allowed");
  const hosts: HostPort[] = [];
  if (u.hosts !== "") {
    for (const part of u.hosts.split(",")) {
      const s = part.trim();
      const hp = parseHostPort(s, { defaultPort: o.defaultPort });
      if (!isHostPortError(hp)) hosts.push(hp);
      else if (hp.error === "host") throw bad(`"${s}" is not a host or host:port (IPv6 in brackets, e.g. [::1]:2379)`);
      else throw bad(`port "${hp.portText}" must be a number from 1 to 65535`);
    }
  }
  if (hosts.length === 0) hosts.push({ host: o.defaultHost, port: o.defaultPort });

  let path: string;
  try {
    path = decodeURIComponent(u.path);
  } catch {
    throw bad("the path has a malformed %-escape");
  }
  if (CONTROL.test(path)) throw bad("the path contains a control character");
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) throw bad(`the path must not contain "." or ".." segments`);
  path = segments.length ? `/${segments.join("/")}` : "";

  for (const key of u.params.keys()) {
    if (!o.params.includes(key)) {
      throw bad(`unknown option "${key}"${o.params.length ? ` (valid: ${o.params.join(", ")})` : ""}`);
    }
  }
  return { scheme: u.scheme, hosts, path, params: u.params };
}

/**
 * Defence in depth: a name or ID goes into a key path only when it cannot leave its place.
 * Throws RegistryError for an empty segment, "." or "..", "/" or control characters.
 */
export function safeSegment(value: string, what: string, backend: string): string {
  if (value === "" || value === "." || value === ".." || value.includes("/") || CONTROL.test(value)) {
    throw new RegistryError(
      `Refusing ${what} ${JSON.stringify(value)} as a key segment in ${backend}: ` +
        `it must not be empty, "." or "..", or contain "/" or control characters`,
    );
  }
  return value;
}
