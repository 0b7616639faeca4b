// Transport shared by the etcd and skydns2 adapters: their URI options, etcdctl's TLS and auth
// conventions (ETCDCTL_*), several endpoints with failover, request timeouts, and the v3 auth token.

import { Buffer } from "node:buffer";
import { ConfigError, RegistryError, errorMessage } from "../errors.ts";
import { type HostPort, joinHostPort } from "../hostport.ts";
import type { AdapterContext, RegistryUri } from "../types.ts";
import { keyPathUri, uriError } from "./uri.ts";

// ---------------------------------------------------------------------------------------------
// etcd connection settings

export type EtcdApi = "v2" | "v3";

export interface EtcdSettings {
  https: boolean;
  endpoints: HostPort[];
  path: string;
  api: EtcdApi;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure: boolean;
  user?: string;
  password?: string;
  timeoutMs: number;
}

export const ETCD_DEFAULT_PORT = 2379;
export const ETCD_TIMEOUT_MS = 5_000;

/** Reads the URI and ETCDCTL_* synchronously; throws ConfigError on anything invalid. */
export function etcdSettings(
  uri: RegistryUri,
  env: (name: string) => string | undefined,
  o: { scheme: string; form: string },
): EtcdSettings {
  const u = keyPathUri(uri, {
    schemes: [o.scheme, `${o.scheme}+https`, `${o.scheme}+http`],
    defaultHost: "127.0.0.1",
    defaultPort: ETCD_DEFAULT_PORT,
    form: o.form,
    params: ["api"],
  });
  const apiText = u.params.get("api") ?? "v3";
  if (apiText !== "v2" && apiText !== "v3") {
    throw uriError(uri, `api must be v2 or v3, not "${apiText}"`);
  }
  const nonEmpty = (name: string) => {
    const v = env(name)?.trim();
    return v ? v : undefined;
  };
  const caFile = nonEmpty("ETCDCTL_CACERT");
  const certFile = nonEmpty("ETCDCTL_CERT");
  const keyFile = nonEmpty("ETCDCTL_KEY");
  if (!!certFile !== !!keyFile) {
    throw new ConfigError("ETCDCTL_CERT and ETCDCTL_KEY go together: set both (client certificate and its key) or neither");
  }
  const insecure = /^(1|true|yes|on)$/i.test(env("ETCDCTL_INSECURE_SKIP_TLS_VERIFY") ?? "");
  let user: string | undefined;
  let password: string | undefined;
  const userText = env("ETCDCTL_USER");
  if (userText) {
    const colon = userText.indexOf(":");
    user = colon < 0 ? userText : userText.slice(0, colon);
    password = colon < 0 ? env("ETCDCTL_PASSWORD") : userText.slice(colon + 1);
    if (user === "" || password === undefined) {
      throw new ConfigError(`ETCDCTL_USER must be "user:password" (or a user name with ETCDCTL_PASSWORD set)`);
    }
  }
  const https = u.scheme.endsWith("+https") || (!u.scheme.endsWith("+http") && !!(caFile || certFile));
  return {
    https,
    endpoints: u.hosts,
    path: u.path,
    api: apiText,
    ...(caFile ? { caFile } : {}),
    ...(certFile ? { certFile } : {}),
    ...(keyFile ? { keyFile } : {}),
    insecure,
    ...(user !== undefined ? { user, password } : {}),
    timeoutMs: ETCD_TIMEOUT_MS,
  };
}

// ---------------------------------------------------------------------------------------------
// Transport

/** An error answer from etcd: HTTP status, and the gRPC code of the v3 envelope or the v2 errorCode. */
export class EtcdError extends RegistryError {
  override name = "EtcdError";
  constructor(
    message: string,
    status: number,
    readonly code?: number,
  ) {
    super(message, status);
  }
}

export interface EtcdResponse {
  status: number;
  text: string;
  /** The base URL of the endpoint that answered. */
  endpoint: string;
  contentType: string;
}

/** Several endpoints tried in turn; the one that answered last is tried first next time. */
export class EtcdHttp {
  readonly urls: string[];
  private current = 0;
  private fetcher?: Promise<typeof fetch>;
  private token?: string;
  /** The cluster said authentication is not enabled: stop asking until it says otherwise. */
  private authOff = false;
  private authing?: Promise<string | undefined>;

  constructor(
    readonly settings: EtcdSettings,
    private readonly ctx: AdapterContext,
  ) {
    const scheme = settings.https ? "https" : "http";
    this.urls = settings.endpoints.map((e) => `${scheme}://${joinHostPort(e.host, e.port)}`);
  }

  describe(): string {
    return this.urls.join(", ");
  }

  private getFetch(): Promise<typeof fetch> {
    const s = this.settings;
    if (!s.https || !(s.caFile || s.certFile || s.insecure)) return Promise.resolve(this.ctx.fetch);
    this.fetcher ??= (async () => {
      const read = async (name: string, file: string | undefined) => {
        if (!file) return undefined;
        try {
          return await this.ctx.runtime.readTextFile(file);
        } catch (e) {
          throw new ConfigError(`Cannot read ${name} "${file}": ${errorMessage(e)}`);
        }
      };
      const [ca, cert, key] = await Promise.all([
        read("ETCDCTL_CACERT", s.caFile),
        read("ETCDCTL_CERT", s.certFile),
        read("ETCDCTL_KEY", s.keyFile),
      ]);
      return this.ctx.runtime.fetchTls({
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        insecure: s.insecure,
      });
    })();
    // A failed read is retried on the next call (the file may appear later).
    this.fetcher.catch(() => (this.fetcher = undefined));
    return this.fetcher;
  }

  /**
   * One request, failing over to the next endpoint when one cannot be reached, times out or
   * answers 503 (no leader). Any other HTTP answer is returned as is.
   */
  async request(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<EtcdResponse> {
    const f = await this.getFetch();
    const failures: string[] = [];
    let last503: EtcdResponse | undefined;
    for (let n = 0; n < this.urls.length; n++) {
      const i = (this.current + n) % this.urls.length;
      const base = this.urls[i] as string;
      try {
        const res = await f(base + path, {
          method,
          headers: init.headers,
          body: init.body,
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        });
        const text = await res.text();
        const r = { status: res.status, text, endpoint: base, contentType: res.headers.get("content-type") ?? "" };
        if (res.status === 503 && this.urls.length > 1) {
          last503 = r;
          failures.push(`${base}: 503 ${firstLine(text)}`);
          continue;
        }
        if (i !== this.current) this.ctx.log.info(`etcd: using endpoint ${base}`);
        this.current = i;
        return r;
      } catch (e) {
        failures.push(`${base}: ${describeFetchError(e)}`);
      }
    }
    if (last503) return last503;
    throw new RegistryError(`cannot reach etcd (${failures.join("; ")})`);
  }

  // --- v3 -------------------------------------------------------------------------------------

  /** POST a v3 gateway call with the auth token; re-authenticates once on an invalid token. */
  async v3<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    let token = await this.authToken();
    for (let attempt = 0; ; attempt++) {
      const res = await this.request("POST", `/v3${path}`, {
        body: JSON.stringify(body),
        headers: { "content-type": "application/json", ...(token ? { authorization: token } : {}) },
      });
      if (res.status === 200) return parseJson(res, path) as T;
      const err = v3Error(res, path);
      const wantsAuth = res.status === 401 || (this.authOff && /user name is empty/.test(err.message));
      if (wantsAuth && this.settings.user !== undefined && attempt === 0) {
        token = await this.authToken(true);
        continue;
      }
      throw err;
    }
  }

  /** The cached token (authenticating first when ETCDCTL_USER is set); undefined without auth. */
  authToken(renew = false): Promise<string | undefined> {
    const { user, password } = this.settings;
    if (user === undefined) return Promise.resolve(undefined);
    if (renew) {
      this.token = undefined;
      this.authOff = false;
    }
    if (this.token || this.authOff) return Promise.resolve(this.token);
    this.authing ??= (async () => {
      try {
        const res = await this.request("POST", "/v3/auth/authenticate", {
          body: JSON.stringify({ name: user, password }),
          headers: { "content-type": "application/json" },
        });
        if (res.status === 200) {
          const token = (parseJson(res, "/auth/authenticate") as { token?: string }).token;
          this.token = token || undefined;
          return this.token;
        }
        const err = v3Error(res, "/auth/authenticate");
        if (/authentication is not enabled/.test(err.message)) {
          this.ctx.log.debug("etcd: ETCDCTL_USER is set but authentication is not enabled on the cluster");
          this.authOff = true;
          return undefined;
        }
        if (/authentication failed|invalid user ID or password/.test(err.message)) {
          throw new EtcdAuthError(`etcd authentication failed for user "${user}" at ${res.endpoint}: wrong user name or password (ETCDCTL_USER)`, res.status);
        }
        throw err;
      } finally {
        this.authing = undefined;
      }
    })();
    return this.authing;
  }

  // --- v2 -------------------------------------------------------------------------------------

  /** A v2 keys API request; `key` is a plain "/a/b" path, encoded here segment by segment. */
  v2(method: string, key: string, o: { form?: Record<string, string>; query?: string } = {}): Promise<EtcdResponse> {
    const encoded = v2KeyPath(key);
    const headers: Record<string, string> = {};
    if (o.form) headers["content-type"] = "application/x-www-form-urlencoded";
    if (this.settings.user !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.settings.user}:${this.settings.password}`, "utf8").toString("base64")}`;
    }
    return this.request(method, `${encoded}${o.query ? `?${o.query}` : ""}`, {
      headers,
      ...(o.form ? { body: new URLSearchParams(o.form).toString() } : {}),
    });
  }
}

/** The v2 keys API path of a plain "/a/b" key: `/v2/keys/a/b`, each segment percent-encoded. */
export function v2KeyPath(key: string): string {
  return `/v2/keys${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Wrong credentials: ping() turns this into a ConfigError (exit 2 at startup). */
export class EtcdAuthError extends EtcdError {
  override name = "EtcdAuthError";
}

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").trim().slice(0, 200);
}

function parseJson(res: EtcdResponse, what: string): unknown {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new EtcdError(`${what}: ${res.status} answer is not JSON: ${firstLine(res.text)}`, res.status);
  }
}

/** Error envelope `{"error","message","code"}` → EtcdError; a non-JSON 404 means the API is not served. */
export function v3Error(res: EtcdResponse, path: string): EtcdError {
  if (res.status === 404 && !res.contentType.includes("json")) {
    return new EtcdError(
      `etcd at ${res.endpoint} does not serve the v3 API (POST /v3${path}: 404 ${firstLine(res.text)}); ` +
        `for a cluster that speaks only the v2 keys API (etcd < 3.4) add "?api=v2" to the registry URI`,
      404,
    );
  }
  let msg = firstLine(res.text);
  let code: number | undefined;
  try {
    const j = JSON.parse(res.text) as { message?: string; error?: string; code?: number };
    msg = j.message ?? j.error ?? msg;
    code = j.code;
  } catch {
    // keep the text
  }
  let hint = "";
  if (/user name is empty/.test(msg)) hint = " (authentication is enabled on the cluster: set ETCDCTL_USER=user:password)";
  else if (res.status === 403 || /permission denied/.test(msg)) hint = " (the ETCDCTL_USER user lacks permission on this key range)";
  else if (/CommonName/.test(msg)) {
    hint = " (with authentication on, etcd's HTTP gateway refuses client certificates that carry a CommonName: use one without a CN for ETCDCTL_CERT)";
  }
  return new EtcdError(`${res.status} ${msg}${hint}`, res.status, code);
}

function describeFetchError(e: unknown): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return "request timed out";
  const code = (e as { code?: unknown }).code;
  const msg = errorMessage(e);
  const cert = /cert|self.signed|verify|SSL|TLS/i.test(`${String(code)} ${msg}`)
    ? " (TLS: check ETCDCTL_CACERT / ETCDCTL_CERT / ETCDCTL_KEY)"
    : "";
  return `${typeof code === "string" && !msg.includes(code) ? `${code}: ` : ""}${msg}${cert}`;
}

// ---------------------------------------------------------------------------------------------
// What the etcd and skydns2 adapters need from either API version

export interface KvEntry {
  key: string;
  value: string;
}

/** A flat key/value view of etcd with TTL handling, implemented on v3 (leases) and v2 (ttl). */
export interface KvStore {
  readonly api: EtcdApi;
  /** Checks reachability, the API and the credentials by reading `key`. */
  ping(key: string): Promise<void>;
  put(key: string, value: string): Promise<void>;
  /** Deleting a missing key is fine. */
  delete(key: string): Promise<void>;
  /**
   * Removes the directory `dir` if it is empty (v2 only: v3 has no directories). A directory that
   * is not empty or already gone is fine.
   */
  removeEmptyDir?(dir: string): Promise<void>;
  /** Every key under `prefix` (which ends with "/"). */
  list(prefix: string): Promise<KvEntry[]>;
  /** Keeps `entries` alive (one keepalive on v3, TTL refresh on v2), re-writing what was lost. */
  refresh(entries: KvEntry[]): Promise<void>;
  /** `revoke`: also drop the lease (v3), which deletes its keys. */
  close(revoke: boolean): Promise<void>;
}
