// Transport shared by the consul and consulkv adapters: address parsing, ACL token, TLS, timeouts.
// Everything configurable is validated synchronously (ConfigError); files are read on first use.

import { ConfigError, RegistryError, errorMessage, redactSecrets } from "../errors.ts";
import { isHostPortError, joinHostPort, parseHostPort, splitUri } from "../hostport.ts";
import type { TlsOptions } from "../runtime/types.ts";
import type { AdapterContext, Logger, RegistryUri } from "../types.ts";
import { redactUri, uriError } from "./uri.ts";

export type ConsulEndpoint =
  | { kind: "http" | "https"; host: string; port: number; prefix: string }
  | { kind: "unix"; socketPath: string; prefix: string };

export interface ConsulSettings {
  endpoint: ConsulEndpoint;
  token?: string;
  tokenFile?: string;
  basicAuth?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  insecure: boolean;
  /** Query parameters sent on every request (Enterprise `ns`, `partition`). */
  query: Record<string, string>;
}

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_HTTP_PORT = 8500;
export const DEFAULT_HTTPS_PORT = 8501;
export const REQUEST_TIMEOUT_MS = 10_000;
export const ACL_HINT = "check CONSUL_HTTP_TOKEN / the token's service:write policy";

/**
 * `host`, `host:port`, `[v6]`, `[v6]:port` → {host, port} (IPv6 without brackets).
 * `what` names the source in the error, e.g. `registry URI "consul://x:y"`.
 */
function consulHostPort(s: string, defaultPort: number, what: string): { host: string; port: number } {
  const r = parseHostPort(s, { defaultPort });
  if (!isHostPortError(r)) return r;
  if (r.error === "host" || /\D/.test(r.portText)) {
    throw new ConfigError(`Invalid ${what}: expected host:port (e.g. 127.0.0.1:8500 or [::1]:8500)`);
  }
  throw new ConfigError(`Invalid ${what}: port must be a number from 1 to 65535`);
}

function cleanPrefix(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  return trimmed === "" ? "" : trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

/** CONSUL_HTTP_ADDR: `host:port`, `http://…`, `https://…`, `unix:///path`; a path after the host is a URL prefix. */
export function parseConsulAddr(addr: string, ssl: boolean, what = `CONSUL_HTTP_ADDR "${addr}"`): ConsulEndpoint {
  // Without a scheme the whole text is host:port[/prefix] (`consul:8500` is not scheme "consul").
  const parts = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(addr) ? splitUri(addr) : splitUri(`none://${addr}`);
  const scheme = parts?.scheme === "none" ? undefined : parts?.scheme;
  if (scheme === "unix") {
    const socketPath = addr.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new ConfigError(`Invalid ${what}: expected unix:///absolute/path/to/consul.sock`);
    }
    return { kind: "unix", socketPath, prefix: "" };
  }
  if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
    throw new ConfigError(`Invalid ${what}: scheme must be http://, https:// or unix://`);
  }
  const authority = parts?.authority ?? addr;
  const prefix = cleanPrefix(parts?.path ?? "");
  const kind = scheme === "https" || (scheme === undefined && ssl) ? "https" : "http";
  // With an explicit scheme a missing port follows URL rules (80/443), as the Consul CLI does.
  const defaultPort = scheme ? (kind === "https" ? 443 : 80) : kind === "https" ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT;
  const { host, port } = consulHostPort(authority, defaultPort, what);
  return { kind, host, port, prefix };
}

/** Go's strconv.ParseBool. */
export function parseGoBool(name: string, value: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new ConfigError(`Invalid ${name} "${value}": expected true or false`);
}

function nonEmpty(env: AdapterContext["env"], name: string): string | undefined {
  const v = env(name);
  return v === undefined || v.trim() === "" ? undefined : v;
}

/**
 * Reads every CONSUL_* variable that shapes the connection. `endpointFor` receives the CONSUL_HTTP_ADDR
 * endpoint (or undefined) and returns the endpoint to use: registry URIs with a host override the variable.
 */
export function readConsulSettings(
  env: AdapterContext["env"],
  endpointFor: (fromEnv: ConsulEndpoint | undefined, ssl: boolean) => ConsulEndpoint,
  log?: AdapterContext["log"],
): ConsulSettings {
  const sslText = nonEmpty(env, "CONSUL_HTTP_SSL");
  const ssl = sslText !== undefined && parseGoBool("CONSUL_HTTP_SSL", sslText);
  const addr = nonEmpty(env, "CONSUL_HTTP_ADDR");
  const endpoint = endpointFor(addr === undefined ? undefined : parseConsulAddr(addr.trim(), ssl), ssl);
  const verifyText = nonEmpty(env, "CONSUL_HTTP_SSL_VERIFY");
  const insecure = verifyText !== undefined && !parseGoBool("CONSUL_HTTP_SSL_VERIFY", verifyText);
  const certFile = nonEmpty(env, "CONSUL_CLIENT_CERT");
  const keyFile = nonEmpty(env, "CONSUL_CLIENT_KEY");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      `Invalid TLS settings: CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together (only ${certFile ? "CONSUL_CLIENT_CERT" : "CONSUL_CLIENT_KEY"} is set)`,
    );
  }
  if (nonEmpty(env, "CONSUL_CAPATH") !== undefined && log) {
    log.warn("CONSUL_CAPATH is not supported and is ignored: put the CA certificate(s) in one file and set CONSUL_CACERT");
  }
  const auth = nonEmpty(env, "CONSUL_HTTP_AUTH");
  const query: Record<string, string> = {};
  const ns = nonEmpty(env, "CONSUL_NAMESPACE");
  const partition = nonEmpty(env, "CONSUL_PARTITION");
  if (ns) query.ns = ns;
  if (partition) query.partition = partition;
  const serverName = nonEmpty(env, "CONSUL_TLS_SERVER_NAME")?.replace(/:\d+$/, "");
  const caFile = nonEmpty(env, "CONSUL_CACERT");
  const token = nonEmpty(env, "CONSUL_HTTP_TOKEN")?.trim();
  const tokenFile = nonEmpty(env, "CONSUL_HTTP_TOKEN_FILE");
  return {
    endpoint,
    insecure,
    query,
    ...(token ? { token } : {}),
    ...(tokenFile ? { tokenFile } : {}),
    ...(auth ? { basicAuth: auth } : {}),
    ...(caFile ? { caFile } : {}),
    ...(certFile ? { certFile } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(serverName ? { serverName } : {}),
  };
}

export function describeEndpoint(e: ConsulEndpoint): string {
  return e.kind === "unix" ? `unix://${e.socketPath}` : `${e.kind}://${joinHostPort(e.host, e.port)}${e.prefix}`;
}

export interface ConsulResponse {
  status: number;
  statusText?: string;
  text: string;
}

function base64(s: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** A fetch failure's message without the runtime's advice (Bun: `fetching "<url>". For more information…`). */
function networkMessage(e: unknown): string {
  // Deno's fetch says only "fetch failed"; the reason (e.g. "invalid peer certificate: UnknownIssuer") is its cause.
  if (e instanceof TypeError && e.message === "fetch failed" && e.cause !== undefined) e = e.cause;
  const msg = errorMessage(e).replace(/ fetching "[^"]*"\.?.*$/s, "").replace(/\s*For more information.*$/s, "");
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code !== "" && !msg.includes(code) ? `${msg} (${code})` : msg;
}

/** One HTTP client per adapter. Never puts the token in a message. */
export class ConsulClient {
  readonly base: string;
  private ready?: Promise<{ fetch: typeof fetch; headers: Record<string, string> }>;
  private secrets: string[] = [];

  constructor(
    readonly settings: ConsulSettings,
    private readonly ctx: AdapterContext,
    readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    const e = settings.endpoint;
    this.base = (e.kind === "unix" ? "http://localhost" : `${e.kind}://${joinHostPort(e.host, e.port)}`) + e.prefix;
    if (settings.token) this.secrets.push(settings.token);
    if (settings.basicAuth) {
      // The pair, the password alone and the header value the pair becomes (an echoed `Basic …`).
      const colon = settings.basicAuth.indexOf(":");
      this.secrets.push(settings.basicAuth, base64(settings.basicAuth));
      if (colon >= 0) this.secrets.push(settings.basicAuth.slice(colon + 1));
    }
  }

  describe(): string {
    return describeEndpoint(this.settings.endpoint);
  }

  /** Removes the token (and basic-auth secret) from any text before it reaches a message or log. */
  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  private async readFile(name: string, path: string): Promise<string> {
    try {
      return await this.ctx.runtime.readTextFile(path);
    } catch (e) {
      throw new ConfigError(`Cannot read ${name} "${path}": ${errorMessage(e)}`);
    }
  }

  private async setup(): Promise<{ fetch: typeof fetch; headers: Record<string, string> }> {
    const s = this.settings;
    const headers: Record<string, string> = {};
    let token = s.token;
    if (s.tokenFile) {
      token = (await this.readFile("CONSUL_HTTP_TOKEN_FILE", s.tokenFile)).trim() || undefined;
      if (token) this.secrets.push(token);
    }
    if (token) headers["X-Consul-Token"] = token;
    if (s.basicAuth) headers.Authorization = `Basic ${base64(s.basicAuth)}`;
    const e = s.endpoint;
    let f: typeof fetch;
    if (e.kind === "unix") {
      f = this.ctx.runtime.fetchUnix(e.socketPath);
    } else if (e.kind === "https" && (s.caFile || s.certFile || s.serverName || s.insecure)) {
      const tls: TlsOptions = {};
      if (s.caFile) tls.ca = await this.readFile("CONSUL_CACERT", s.caFile);
      if (s.certFile) tls.cert = await this.readFile("CONSUL_CLIENT_CERT", s.certFile);
      if (s.keyFile) tls.key = await this.readFile("CONSUL_CLIENT_KEY", s.keyFile);
      if (s.serverName) tls.serverName = s.serverName;
      if (s.insecure) tls.insecure = true;
      try {
        f = this.ctx.runtime.fetchTls(tls);
      } catch (err) {
        throw new ConfigError(`Cannot set up TLS for consul at ${this.describe()}: ${errorMessage(err)}`);
      }
    } else {
      f = this.ctx.fetch;
    }
    return { fetch: f, headers };
  }

  private prepared() {
    // Files are read once; a failure is not cached, so a file that appears later is picked up.
    this.ready ??= this.setup().catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /**
   * Sends one request; `path` starts with /v1/. Network failures and timeouts become RegistryError
   * (without status) prefixed with `failure`; any HTTP status is returned for the caller to judge.
   */
  async request(method: string, path: string, failure: string, body?: string): Promise<ConsulResponse> {
    const { fetch: f, headers } = await this.prepared();
    const q = new URLSearchParams(this.settings.query).toString();
    const url = this.base + path + (q ? (path.includes("?") ? "&" : "?") + q : "");
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    try {
      const res = await f(url, { method, headers: h, body, signal: AbortSignal.timeout(this.timeoutMs) });
      return { status: res.status, statusText: res.statusText, text: await res.text() };
    } catch (e) {
      const name = e instanceof Error ? e.name : "";
      const where = failure.includes(this.describe()) ? "" : `${this.describe()}: `;
      const reason =
        name === "TimeoutError" || name === "AbortError"
          ? `no answer from ${this.describe()} within ${this.timeoutMs / 1000}s`
          : where + networkMessage(e);
      throw new RegistryError(this.redact(`${failure}: ${reason}`), undefined, { cause: e });
    }
  }

  /** `<failure>: <status> <body>` (with the ACL hint on 403). */
  httpError(failure: string, res: ConsulResponse): RegistryError {
    const body = res.text.trim().replace(/\s+/g, " ").slice(0, 300) || (res.statusText ?? "");
    const hint = res.status === 403 ? ` (${ACL_HINT})` : "";
    return new RegistryError(this.redact(`${failure}: ${res.status} ${body}`.trimEnd() + hint), res.status);
  }

  /**
   * Liveness: `GET /v1/status/leader` answers 200 (an empty leader too); anything else is a RegistryError.
   * With CONSUL_NAMESPACE / CONSUL_PARTITION also one read in them (`GET /v1/agent/services?ns=…`):
   * the status endpoints ignore both, and a namespace the agent refuses (Consul CE, a missing one, a
   * token without access) must not leave /ready green while every write fails.
   */
  async ping(): Promise<void> {
    const failure = `Cannot reach consul at ${this.describe()}`;
    const res = await this.request("GET", "/v1/status/leader", failure);
    if (res.status !== 200) throw this.httpError(failure, res);
    const scope = Object.entries(this.settings.query)
      .map(([k, v]) => `${k === "ns" ? "CONSUL_NAMESPACE" : "CONSUL_PARTITION"} ${JSON.stringify(v)}`)
      .join(" and ");
    if (scope === "") return;
    const inScope = `Cannot use ${scope} at ${this.describe()}`;
    const scoped = await this.request("GET", "/v1/agent/services", inScope);
    if (scoped.status !== 200) throw this.httpError(inScope, scoped);
  }
}

/** The JSON in an answer's body; invalid JSON is a RegistryError prefixed with `failure`. */
export function jsonBody(failure: string, res: ConsulResponse): unknown {
  try {
    return JSON.parse(res.text);
  } catch (e) {
    throw new RegistryError(`${failure}: invalid JSON (${errorMessage(e)})`);
  }
}

/**
 * The endpoint of a `consul[kv]://[host[:port]]` URI: its host when given, else CONSUL_HTTP_ADDR, else
 * 127.0.0.1 on 8500 (8501 with TLS). `tls` forces https (consul-tls://).
 */
export function tcpEndpoint(uri: RegistryUri, tls: boolean, fromEnv: ConsulEndpoint | undefined, ssl: boolean): ConsulEndpoint {
  const https = tls || ssl;
  const authority = uri.authority;
  if (authority !== undefined && authority !== "") {
    const { host, port } = consulHostPort(authority, https ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT, `registry URI "${redactUri(uri.text)}"`);
    return { kind: https ? "https" : "http", host, port, prefix: "" };
  }
  if (fromEnv) {
    if (!tls) return fromEnv;
    if (fromEnv.kind === "unix") {
      throw uriError(uri, "consul-tls cannot use the unix socket in CONSUL_HTTP_ADDR; name a host (consul-tls://host:8501)");
    }
    return { ...fromEnv, kind: "https" };
  }
  return { kind: https ? "https" : "http", host: DEFAULT_HOST, port: https ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT, prefix: "" };
}

/** A value in double quotes with control characters escaped, for messages (`"web-80"`). */
export function quote(s: string): string {
  return JSON.stringify(s);
}
