import { DockerError, errorMessage, redactSecrets } from "../errors.ts";
import { isHostPortError, joinHostPort, parseHostPort, splitUri } from "../hostport.ts";
import type { Runtime } from "../runtime/types.ts";
import { type ContainerInspect, ContainerList, type ContainerSummary, DockerEvent, ImageInspect, validInspect } from "./schema.ts";

/**
 * Image IDs whose tag lookup is remembered. Only containers whose Config.Image is an image ID look
 * one up, and many containers share an image; when the table is full the oldest lookup goes.
 */
const IMAGE_TAGS_MAX = 1024;

/** The newest API version whose shapes this client knows; engines newer than this are spoken to at it. */
export const MAX_API = "1.52";

export interface DockerEndpoint {
  /** Base URL for requests: http://localhost for unix sockets, http(s)://host:port for tcp. */
  baseUrl: string;
  fetch: typeof fetch;
  /** Human-readable address for logs and errors. */
  address: string;
}

function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split(".").map(Number);
  const [bm = 0, bn = 0] = b.split(".").map(Number);
  return am - bm || an - bn;
}

/** Where to find Docker: DOCKER_HOST, then /tmp/docker.sock, /var/run/docker.sock, then the Podman sockets. */
export async function resolveDockerEndpoint(rt: Runtime): Promise<DockerEndpoint> {
  const host = rt.env("DOCKER_HOST");
  if (host) return endpointFor(host, rt);
  const candidates = ["/tmp/docker.sock", "/var/run/docker.sock", "/run/podman/podman.sock"];
  const xdg = rt.env("XDG_RUNTIME_DIR");
  if (xdg) candidates.push(`${xdg}/podman/podman.sock`, `${xdg}/docker.sock`);
  for (const path of candidates) if (await rt.exists(path)) return endpointFor(`unix://${path}`, rt);
  throw new DockerError(
    `Cannot find the Docker socket: tried ${candidates.join(", ")}; set DOCKER_HOST (unix:///path or tcp://host:port)`,
  );
}

const DOCKER_HOST_FORMS = "unix:///path/to/docker.sock, tcp://host:port or https://host:port";

function invalidHost(host: string, why: string): DockerError {
  return new DockerError(`Invalid DOCKER_HOST ${JSON.stringify(redactSecrets(host))}: ${why}; expected ${DOCKER_HOST_FORMS}`);
}

/**
 * DOCKER_HOST → how to reach Docker, as the Docker CLI reads it:
 * - `unix:///path`: the socket;
 * - `tcp://h[:p]` / `http://h[:p]`: plain HTTP (port 2375), or TLS when DOCKER_TLS_VERIFY is set
 *   (not "" or "0"; port 2376), verified against DOCKER_CERT_PATH/ca.pem with its client certificate;
 * - `https://h[:p]`: TLS, always verified (against DOCKER_CERT_PATH/ca.pem when present, else the
 *   system CAs): naming https never turns verification off.
 * Certificates (ca.pem, cert.pem + key.pem) come from DOCKER_CERT_PATH, else ~/.docker, when present.
 */
export async function endpointFor(host: string, rt: Runtime): Promise<DockerEndpoint> {
  if (host.startsWith("unix://")) {
    const path = host.slice("unix://".length);
    if (!path.startsWith("/")) throw invalidHost(host, "a unix socket needs an absolute path");
    return { baseUrl: "http://localhost", fetch: rt.fetchUnix(path), address: host };
  }
  const u = splitUri(host);
  const scheme = u?.authority === undefined ? undefined : u.scheme;
  if (!u || (scheme !== "tcp" && scheme !== "http" && scheme !== "https")) {
    throw invalidHost(host, scheme ? `scheme "${scheme}" is not supported` : "no scheme");
  }
  if (u.userinfo !== undefined) throw invalidHost(host, "credentials in the address are not supported");
  const verifyText = rt.env("DOCKER_TLS_VERIFY") ?? "";
  const tls = scheme === "https" || (verifyText !== "" && verifyText !== "0");
  const hp = parseHostPort(u.hosts, { defaultPort: tls ? 2376 : 2375 });
  const trailing = (u.path !== "" && u.path !== "/") || u.query !== "" || u.fragment !== undefined || /[?#]/.test(host);
  if (trailing || (isHostPortError(hp) && (hp.error === "host" || !/^\d+$/.test(hp.portText)))) {
    throw invalidHost(host, "expected host[:port] with nothing after it");
  }
  if (isHostPortError(hp)) throw invalidHost(host, `port "${hp.error === "port" ? hp.portText : ""}" is not a number from 1 to 65535`);
  const hostPort = joinHostPort(hp.host, hp.port);
  if (!tls) return { baseUrl: `http://${hostPort}`, fetch: globalThis.fetch, address: host };
  const home = rt.env("HOME");
  const dir = rt.env("DOCKER_CERT_PATH") || (home ? `${home}/.docker` : undefined);
  const read = async (f: string): Promise<string | undefined> => {
    const file = `${dir}/${f}`;
    if (!dir || !(await rt.exists(file))) return undefined;
    try {
      return await rt.readTextFile(file);
    } catch (e) {
      throw new DockerError(`Cannot read "${file}" (DOCKER_CERT_PATH): ${errorMessage(e)}`);
    }
  };
  const [ca, cert, key] = [await read("ca.pem"), await read("cert.pem"), await read("key.pem")];
  if ((cert === undefined) !== (key === undefined)) {
    throw new DockerError(`Invalid DOCKER_CERT_PATH "${dir}": cert.pem and key.pem must be there together (only ${cert ? "cert.pem" : "key.pem"} is)`);
  }
  const options = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  return { baseUrl: `https://${hostPort}`, fetch: rt.fetchTls(options), address: host };
}

export interface EventsOptions {
  /** Replay from this point: Docker's `since`, seconds with a nanosecond fraction. */
  sinceNano?: bigint;
  signal?: AbortSignal;
}

/** Docker Engine API over an injected fetch: version negotiation, list, inspect, events. */
export class DockerClient {
  private prefix = "";
  apiVersion = "";
  /** Image ID → its first repository tag (null: none); a lookup in flight is shared. */
  private readonly imageTags = new Map<string, Promise<string | null>>();

  constructor(readonly endpoint: DockerEndpoint) {}

  private async request(path: string, init?: RequestInit): Promise<Response> {
    try {
      return await this.endpoint.fetch(this.endpoint.baseUrl + path, init);
    } catch (e) {
      throw new DockerError(`Cannot reach Docker at ${this.endpoint.address}: ${errorMessage(e)}`, undefined, { cause: e });
    }
  }

  private async json(path: string): Promise<unknown> {
    const res = await this.request(this.prefix + path, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw await this.failure(path, res);
    return res.json();
  }

  private async failure(path: string, res: Response): Promise<DockerError> {
    const text = (await res.text().catch(() => "")).trim();
    let msg = text;
    try {
      msg = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {}
    return new DockerError(`Docker answered ${res.status} to ${path}: ${msg}`, res.status);
  }

  /** The engine's clock at the last ping (its Date header, whole seconds), as Docker's `since` counts. */
  clockNano: bigint | undefined;
  /** A ping started ahead of its use (startPing); the next ping() takes its answer. */
  private early: Promise<string> | undefined;
  /** The container list asked for right after that ping; the next list() takes it. */
  private earlyList: Promise<ContainerSummary[]> | undefined;

  /**
   * Sends the first /_ping now, and the container list as soon as it is answered, while the
   * caller prepares other things (the registries' own pings): the next ping() and list() take
   * their answers instead of asking again (bench/startup.ts). Whoever takes them sees a failure.
   */
  startPing(): void {
    this.early = this.ping();
    this.earlyList = this.early.then(() => this.askList());
    this.early.catch(() => {});
    this.earlyList.catch(() => {});
  }

  /** GET /_ping and pin the API version: min(engine's, ours). Never a hard-coded version. */
  async ping(): Promise<string> {
    const early = this.early;
    if (early) {
      this.early = undefined;
      return early;
    }
    this.earlyList = undefined; // a ping again (a reconnect): a list from before it is stale
    const res = await this.request("/_ping", { signal: AbortSignal.timeout(10_000) });
    await res.text().catch(() => "");
    if (!res.ok) throw new DockerError(`Docker answered ${res.status} to /_ping at ${this.endpoint.address}`, res.status);
    const date = Date.parse(res.headers.get("Date") ?? "");
    this.clockNano = Number.isFinite(date) ? BigInt(date) * 1_000_000n : undefined;
    const server = res.headers.get("Api-Version") ?? "";
    this.apiVersion = server && compareVersions(server, MAX_API) > 0 ? MAX_API : server;
    this.prefix = this.apiVersion ? `/v${this.apiVersion}` : "";
    return this.apiVersion;
  }

  /** The engine's host name (`GET /info` → `Name`): the host's name, seen from a container too. */
  async info(): Promise<{ name: string }> {
    const body = (await this.json("/info")) as { Name?: unknown } | null;
    const name = typeof body?.Name === "string" ? body.Name.trim() : "";
    if (!name) throw new DockerError(`Docker's /info at ${this.endpoint.address} has no host name (Name)`);
    return { name };
  }

  /** Running containers. */
  list(): Promise<ContainerSummary[]> {
    const early = this.earlyList;
    this.earlyList = undefined;
    return early ?? this.askList();
  }

  private async askList(): Promise<ContainerSummary[]> {
    const body = await this.json("/containers/json");
    return ContainerList.parse(body);
  }

  /** Inspect one container; null when it no longer exists. */
  async inspect(id: string): Promise<ContainerInspect | null> {
    const path = `/containers/${encodeURIComponent(id)}/json`;
    const res = await this.request(this.prefix + path, { signal: AbortSignal.timeout(30_000) });
    if (res.status === 404) {
      await res.text().catch(() => "");
      return null;
    }
    if (!res.ok) throw await this.failure(path, res);
    const parsed = validInspect(await res.json());
    if ("error" in parsed) throw new DockerError(`Unexpected inspect data for container "${id.slice(0, 12)}": ${parsed.error}`);
    return parsed.data;
  }

  /** The ports an image declares (EXPOSE); undefined when the image is unknown. */
  async imageExposedPorts(image: string): Promise<Record<string, unknown> | undefined> {
    const path = `/images/${encodeURIComponent(image)}/json`;
    const res = await this.request(this.prefix + path, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) {
      await res.text().catch(() => "");
      return undefined;
    }
    const body = (await res.json()) as { Config?: { ExposedPorts?: Record<string, unknown> | null } | null };
    const ports = body.Config?.ExposedPorts;
    // Keys are the image's: without a prototype, "constructor/tcp" or "__proto__" is just a key.
    return ports && typeof ports === "object" ? Object.assign(Object.create(null) as Record<string, unknown>, ports) : undefined;
  }

  /**
   * The first repository tag of an image (`RepoTags[0]`, e.g. "registry:5000/app:1.2"), null when
   * it has none or is gone. One inspect per image ID, remembered: the tag names the services of
   * every container run from that ID, and a name that changed with each resync would churn them.
   * A failure to reach Docker is not remembered (it throws; the next sync asks again).
   */
  imageTag(imageId: string): Promise<string | null> {
    const known = this.imageTags.get(imageId);
    if (known) return known;
    if (this.imageTags.size >= IMAGE_TAGS_MAX) this.imageTags.delete(this.imageTags.keys().next().value!);
    const lookup = this.lookupImageTag(imageId);
    this.imageTags.set(imageId, lookup);
    lookup.catch(() => {
      if (this.imageTags.get(imageId) === lookup) this.imageTags.delete(imageId);
    });
    return lookup;
  }

  private async lookupImageTag(imageId: string): Promise<string | null> {
    const path = `/images/${encodeURIComponent(imageId)}/json`;
    const res = await this.request(this.prefix + path, { signal: AbortSignal.timeout(30_000) });
    if (res.status === 404) {
      await res.text().catch(() => "");
      return null;
    }
    if (!res.ok) throw await this.failure(path, res);
    const parsed = ImageInspect.safeParse(await res.json());
    if (!parsed.success) throw new DockerError(`Unexpected inspect data for image "${imageId.slice(0, 19)}": ${parsed.error.issues[0]?.message}`);
    // Old engines list an untagged image as "<none>:<none>".
    return parsed.data.RepoTags?.find((t) => t !== "" && !t.startsWith("<none>")) ?? null;
  }

  /**
   * Subscribe to the container event stream, filtered on the server side. Resolves once Docker has
   * answered (so a list made afterwards cannot miss an event); the iterable ends when Docker closes it.
   */
  async openEvents(opts: EventsOptions = {}): Promise<AsyncIterable<DockerEvent>> {
    const filters = JSON.stringify({
      type: ["container"],
      // health_status: Docker matches it as a prefix of "health_status: healthy" (API 1.24+).
      event: ["start", "restart", "die", "died", "stop", "kill", "destroy", "remove", "rename", "pause", "unpause", "health_status"],
    });
    let q = `filters=${encodeURIComponent(filters)}`;
    if (opts.sinceNano !== undefined) {
      const s = opts.sinceNano / 1_000_000_000n;
      const ns = (opts.sinceNano % 1_000_000_000n).toString().padStart(9, "0");
      q += `&since=${s}.${ns}`;
    }
    const path = `/events?${q}`;
    const res = await this.request(this.prefix + path, { signal: opts.signal });
    if (!res.ok || !res.body) throw await this.failure("/events", res);
    return parseEventStream(res.body);
  }
}

/** The non-empty lines of a newline-delimited stream (Docker's event stream), trimmed. */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
}

async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<DockerEvent> {
  for await (const line of ndjsonLines(body)) {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      continue;
    }
    const ev = DockerEvent.safeParse(raw);
    if (ev.success) yield ev.data;
  }
}
