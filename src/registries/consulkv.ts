// Consul KV backend: `<prefix>/<name>/<id>` = `ip:port`, as registrator's consulkv adapter lays it out.
// consulkv://h:p/prefix, consulkv:///prefix (CONSUL_HTTP_ADDR or 127.0.0.1:8500), consulkv-unix:///path/sock:/prefix.

import { ConfigError, RegistryError } from "../errors.ts";
import type { AdapterContext, AdapterFactory, ListedService, RegistryAdapter, RegistryUri, Service, ServiceRef } from "../types.ts";
import { joinHostPort, splitHostPort } from "../hostport.ts";
import { ConsulClient, type ConsulSettings, jsonBody, quote, readConsulSettings, tcpEndpoint } from "./consul-client.ts";
import { uriError } from "./uri.ts";

const FORMS = "consulkv://host:port/prefix or consulkv-unix:///path/to/consul.sock:/prefix";

/** Why `s` cannot be one key segment, or undefined. */
export function segmentProblem(s: string): string | undefined {
  if (s === "") return "is empty";
  if (s === "." || s === "..") return `is "${s}"`;
  if (s.includes("/")) return 'contains "/"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return "contains control characters";
  return undefined;
}

/** "a/b/" → ["a","b"]; ConfigError when empty or a segment is unsafe. */
export function parsePrefix(uri: RegistryUri, raw: string): string[] {
  const trimmed = raw.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") throw uriError(uri, `a key prefix is required (${FORMS})`);
  const segments = trimmed.split("/");
  for (const s of segments) {
    const problem = segmentProblem(s);
    if (problem) throw uriError(uri, `a prefix segment ${problem} (${FORMS})`);
  }
  return segments;
}

export interface ConsulKvConfig {
  settings: ConsulSettings;
  prefix: string[];
}

/** Validates a consulkv URI plus the CONSUL_* environment; throws ConfigError. */
export function parseConsulKvUri(uri: RegistryUri, ctx: Pick<AdapterContext, "env" | "log">): ConsulKvConfig {
  const { scheme, authority, path } = uri;
  if (scheme === "consulkv-unix") {
    const colon = path.indexOf(":");
    const socketPath = colon < 0 ? path : path.slice(0, colon);
    if (authority || !socketPath.startsWith("/") || socketPath === "/") {
      throw uriError(uri, "expected consulkv-unix:///absolute/path/to/consul.sock:/prefix");
    }
    const prefix = parsePrefix(uri, colon < 0 ? "" : path.slice(colon + 1));
    return { settings: readConsulSettings(ctx.env, () => ({ kind: "unix", socketPath, prefix: "" }), ctx.log), prefix };
  }
  if (scheme !== "consulkv") throw uriError(uri, `expected ${FORMS}`);
  if (authority === undefined && path !== "") throw uriError(uri, "expected consulkv://host:port/prefix");
  const prefix = parsePrefix(uri, path);
  return { settings: readConsulSettings(ctx.env, (fromEnv, ssl) => tcpEndpoint(uri, false, fromEnv, ssl), ctx.log), prefix };
}

/** `ip:port`, `[v6]:port`. */
export function kvValue(ip: string, port: number): string {
  return ip.startsWith("[") ? `${ip}:${port}` : joinHostPort(ip, port);
}

function decodeBase64(b64: string): string {
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export class ConsulKvAdapter implements RegistryAdapter {
  readonly backend = "consulkv";

  constructor(
    readonly client: ConsulClient,
    readonly prefix: string[],
    ctx: AdapterContext,
  ) {
  }

  /** The `/v1/kv/...` path of a service; refuses names and IDs that would leave their place. */
  keyPath(service: ServiceRef, action: string): string {
    for (const [what, s] of [
      ["name", service.name],
      ["ID", service.id],
    ] as const) {
      const problem = segmentProblem(s);
      if (problem) {
        throw new RegistryError(`Cannot ${action} ${quote(service.id)} in consulkv: the service ${what} ${problem}, so it cannot be a key segment`);
      }
    }
    return "/v1/kv/" + [...this.prefix, service.name, service.id].map(encodeURIComponent).join("/");
  }

  ping(): Promise<void> {
    return this.client.ping();
  }

  async register(service: Service): Promise<void> {
    const path = this.keyPath(service, "register");
    const failure = `Cannot register ${quote(service.id)} in consulkv`;
    const res = await this.client.request("PUT", path, failure, kvValue(service.ip, service.port));
    if (res.status !== 200) throw this.client.httpError(failure, res);
  }

  async deregister(service: ServiceRef): Promise<void> {
    const path = this.keyPath(service, "deregister");
    const failure = `Cannot deregister ${quote(service.id)} from consulkv`;
    const res = await this.client.request("DELETE", path, failure);
    if (res.status !== 200 && res.status !== 404) throw this.client.httpError(failure, res);
  }

  /** KV entries carry no TTL; anti-entropy (list + fingerprint) restores lost keys. */
  async refresh(_services: Service[]): Promise<void> {}

  async list(): Promise<ListedService[]> {
    const failure = "Cannot list consulkv entries";
    const path = "/v1/kv/" + this.prefix.map(encodeURIComponent).join("/") + "/?recurse";
    const res = await this.client.request("GET", path, failure);
    if (res.status === 404) return [];
    if (res.status !== 200) throw this.client.httpError(failure, res);
    const entries = jsonBody(failure, res);
    if (!Array.isArray(entries)) throw new RegistryError(`${failure}: expected a JSON array`);
    const base = this.prefix.join("/") + "/";
    const out: ListedService[] = [];
    for (const e of entries as Array<{ Key?: unknown; Value?: unknown }>) {
      if (typeof e?.Key !== "string" || !e.Key.startsWith(base)) continue;
      const parts = e.Key.slice(base.length).split("/");
      const [name, id] = parts;
      if (parts.length !== 2 || !name || !id) continue;
      let value = "";
      try {
        value = typeof e.Value === "string" ? decodeBase64(e.Value) : "";
      } catch {
        continue;
      }
      const addr = splitHostPort(value);
      out.push({
        id,
        name,
        ip: addr?.host ?? "",
        port: addr?.port ?? 0,
        protocol: id.endsWith(":udp") ? "udp" : "tcp",
        fingerprint: value,
      });
    }
    return out;
  }

  fingerprint(service: Service): string {
    return kvValue(service.ip, service.port);
  }

  async close(): Promise<void> {}
}

export const consulKvFactory: AdapterFactory = (uri: RegistryUri, ctx: AdapterContext): RegistryAdapter => {
  const { settings, prefix } = parseConsulKvUri(uri, ctx);
  return new ConsulKvAdapter(new ConsulClient(settings, ctx), prefix, ctx);
};
