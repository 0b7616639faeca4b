// An emulated Docker Engine API on a unix socket, for benches only (a simulation: no containers
// run, no engine work is paid; what is measured is registrator's own work). It answers what
// registrator asks: /_ping, the container list, inspect, image inspect and the event stream
// (filters and `since`), in the shapes of Docker API 1.41. The bench drives it in-process:
// add() containers that already run, start() / stop() / remove() them with the events Docker
// would send, each with a timeNano from the wall clock of this host.
import { rmSync } from "node:fs";

export const ENGINE_API = "1.41";

/** Wall-clock now in ns, sub-millisecond (the clock Docker's timeNano uses). */
export const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

export interface ContainerSpec {
  name: string;
  /** Container ports published on the host: container port → host port (tcp). */
  ports: Record<number, number>;
  env?: string[];
  labels?: Record<string, string>;
  image?: string;
}

interface Held {
  id: string;
  spec: ContainerSpec;
  running: boolean;
  exitCode: number;
  ip: string;
  startedAt: string;
  /** Inspect JSON, built once per state change. */
  json?: string;
}

interface Subscriber {
  types?: Set<string>;
  actions?: Set<string>;
  push(line: string): void;
}

export interface Engine {
  /** DOCKER_HOST for the daemon under test. */
  readonly host: string;
  readonly socket: string;
  /** A running container, present before registrator starts: no event. */
  add(spec: ContainerSpec): string;
  /** Create and start: emits `create` and `start`; returns the start event's timeNano. */
  start(spec: ContainerSpec): { id: string; timeNano: bigint };
  /** `docker stop`: kill (SIGTERM), the process exits (143), die, stop. Returns each event's timeNano. */
  stop(id: string): { kill: bigint; die: bigint };
  /** `docker rm -f` of a running container: kill (SIGKILL), die (137), destroy. */
  removeForce(id: string): { kill: bigint; die: bigint; destroy: bigint };
  /** Containers held (running or not). */
  readonly size: number;
  /** Requests answered, by kind (inspect, list, events, ping, image). */
  readonly requests: Record<string, number>;
  /** `docker rm` of a stopped container: destroy. */
  remove(id: string): bigint;
  close(): Promise<void>;
}

let seq = 0;
function newId(): string {
  seq++;
  const rnd = crypto.getRandomValues(new Uint8Array(28));
  const hex = Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("");
  return (seq.toString(16).padStart(8, "0") + hex).slice(0, 64);
}

function inspectJson(c: Held): string {
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  const exposed: Record<string, object> = {};
  for (const [cport, hport] of Object.entries(c.spec.ports)) {
    exposed[`${cport}/tcp`] = {};
    ports[`${cport}/tcp`] = [{ HostIp: "0.0.0.0", HostPort: String(hport) }];
  }
  const image = c.spec.image ?? "bench/emulated:latest";
  return JSON.stringify({
    Id: c.id,
    Created: c.startedAt,
    Path: "/bin/true",
    Args: [],
    State: {
      Status: c.running ? "running" : "exited",
      Running: c.running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: c.running ? 4242 : 0,
      ExitCode: c.exitCode,
      Error: "",
      StartedAt: c.startedAt,
      FinishedAt: "0001-01-01T00:00:00Z",
    },
    Image: "sha256:" + "e".repeat(64),
    Name: `/${c.spec.name}`,
    RestartCount: 0,
    HostConfig: { NetworkMode: "bridge", PortBindings: {} },
    Config: {
      Hostname: c.id.slice(0, 12),
      Image: image,
      Env: c.spec.env ?? [],
      Labels: c.spec.labels ?? {},
      ExposedPorts: exposed,
    },
    NetworkSettings: {
      IPAddress: c.running ? c.ip : "",
      Ports: c.running ? ports : {},
      Networks: { bridge: { NetworkID: "b".repeat(64), IPAddress: c.running ? c.ip : "", GlobalIPv6Address: "" } },
    },
  });
}

/** Parses Docker's `filters` query ({"type":["container"],"event":["start",…]}). */
function parseFilters(q: string | null): { types?: Set<string>; actions?: Set<string> } {
  if (!q) return {};
  try {
    const f = JSON.parse(q) as Record<string, string[] | Record<string, boolean>>;
    const set = (v: string[] | Record<string, boolean> | undefined) =>
      v ? new Set(Array.isArray(v) ? v : Object.keys(v).filter((k) => (v as Record<string, boolean>)[k])) : undefined;
    return { types: set(f.type), actions: set(f.event) };
  } catch {
    return {};
  }
}

/** Starts the emulated engine on a fresh socket path. */
export function startEngine(socket: string): Engine {
  rmSync(socket, { force: true });
  const containers = new Map<string, Held>();
  const subscribers = new Set<Subscriber>();
  /** Every event sent, for `since` replays. */
  const history: Array<{ timeNano: bigint; action: string; line: string }> = [];
  const requests: Record<string, number> = { ping: 0, list: 0, inspect: 0, image: 0, events: 0, other: 0 };
  let ipSeq = 2;

  const emit = (c: Held, action: string, attrs: Record<string, string> = {}): bigint => {
    const t = nowNs();
    const image = c.spec.image ?? "bench/emulated:latest";
    const actor = { ID: c.id, Attributes: { image, name: c.spec.name, ...attrs } };
    const secs = t / 1_000_000_000n;
    // timeNano is written as the exact integer Docker sends (past 2^53: not through a JS number).
    const line = `{"status":"${action}","id":"${c.id}","from":"${image}","Type":"container","Action":"${action}","Actor":${JSON.stringify(actor)},"scope":"local","time":${secs},"timeNano":${t}}\n`;
    history.push({ timeNano: t, action, line });
    for (const s of subscribers) {
      if (s.types && !s.types.has("container")) continue;
      if (s.actions && !s.actions.has(action)) continue;
      s.push(line);
    }
    return t;
  };

  const held = (spec: ContainerSpec, running: boolean): Held => {
    const n = ipSeq++;
    const c: Held = {
      id: newId(),
      spec,
      running,
      exitCode: 0,
      ip: `172.17.${(n >> 8) & 255}.${n & 255}`,
      startedAt: new Date().toISOString(),
    };
    containers.set(c.id, c);
    return c;
  };

  const lookup = (idOrName: string): Held | undefined => {
    const direct = containers.get(idOrName);
    if (direct) return direct;
    for (const c of containers.values()) if (c.id.startsWith(idOrName) || c.spec.name === idOrName) return c;
    return undefined;
  };

  const notFound = (what: string) =>
    new Response(JSON.stringify({ message: `No such container: ${what}` }), { status: 404, headers: { "content-type": "application/json" } });

  // idleTimeout 0: the event stream stays open however long it is quiet (the typings leave it out
  // of the unix-socket options; Bun applies it there too).
  const server = Bun.serve({
    unix: socket,
    ...({ idleTimeout: 0 } as object),
    fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname.replace(/^\/v\d+\.\d+/, "");
      const json = (body: string) => new Response(body, { headers: { "content-type": "application/json", "Api-Version": ENGINE_API } });
      if (path === "/_ping") {
        requests.ping!++;
        return new Response("OK", { headers: { "Api-Version": ENGINE_API, "Content-Type": "text/plain" } });
      }
      if (path === "/version") {
        requests.other!++;
        return json(JSON.stringify({ Version: "20.10.24-emulated", ApiVersion: ENGINE_API, MinAPIVersion: "1.12", Os: "linux", Arch: "amd64" }));
      }
      if (path === "/containers/json") {
        requests.list!++;
        const all = url.searchParams.get("all") === "1" || url.searchParams.get("all") === "true";
        const out: object[] = [];
        for (const c of containers.values()) {
          if (!all && !c.running) continue;
          out.push({ Id: c.id, Names: [`/${c.spec.name}`], Image: c.spec.image ?? "bench/emulated:latest", State: c.running ? "running" : "exited", Status: c.running ? "Up" : "Exited" });
        }
        return json(JSON.stringify(out));
      }
      let m = /^\/containers\/([^/]+)\/json$/.exec(path);
      if (m) {
        requests.inspect!++;
        const c = lookup(decodeURIComponent(m[1]!));
        if (!c) return notFound(m[1]!);
        c.json ??= inspectJson(c);
        return json(c.json);
      }
      m = /^\/images\/(.+)\/json$/.exec(path);
      if (m) {
        requests.image!++;
        return json(JSON.stringify({ Id: "sha256:" + "e".repeat(64), Config: { ExposedPorts: null } }));
      }
      if (path === "/events") {
        requests.events!++;
        const { types, actions } = parseFilters(url.searchParams.get("filters"));
        const since = url.searchParams.get("since");
        let sub: Subscriber | undefined;
        // Docker sends the headers before any event, and a client waits for them (registrator's
        // openEvents); Bun sends them with the first chunk, so the stream opens with an empty line.
        const stream = new ReadableStream({
          type: "direct",
          pull(controller: { write(s: string): unknown; flush(): unknown }) {
            sub = {
              types,
              actions,
              push: (line) => {
                try {
                  controller.write(line);
                  controller.flush();
                } catch {
                  subscribers.delete(sub!);
                }
              },
            };
            if (since) {
              const [s, frac = "0"] = since.split(".");
              const from = BigInt(s!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9));
              for (const h of history) if (h.timeNano >= from && (!actions || actions.has(h.action))) sub.push(h.line);
            }
            subscribers.add(sub);
            controller.write("\n");
            controller.flush();
            // Open until the client goes away.
            return new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
          },
          cancel() {
            if (sub) subscribers.delete(sub);
          },
        } as unknown as UnderlyingDefaultSource);
        req.signal.addEventListener("abort", () => sub && subscribers.delete(sub));
        return new Response(stream, { headers: { "content-type": "application/json", "Api-Version": ENGINE_API } });
      }
      requests.other!++;
      return new Response(JSON.stringify({ message: `page not found (emulated engine): ${path}` }), { status: 404 });
    },
  });

  return {
    host: `unix://${socket}`,
    socket,
    requests,
    get size() {
      return containers.size;
    },
    add(spec) {
      return held(spec, true).id;
    },
    start(spec) {
      const c = held(spec, false);
      emit(c, "create");
      c.running = true;
      c.json = undefined;
      return { id: c.id, timeNano: emit(c, "start") };
    },
    stop(id) {
      const c = containers.get(id);
      if (!c) throw new Error(`Emulated engine: no container "${id}"`);
      const kill = emit(c, "kill", { signal: "15" });
      c.running = false;
      c.exitCode = 143;
      c.json = undefined;
      const die = emit(c, "die", { exitCode: "143" });
      emit(c, "stop");
      return { kill, die };
    },
    removeForce(id) {
      const c = containers.get(id);
      if (!c) throw new Error(`Emulated engine: no container "${id}"`);
      const kill = emit(c, "kill", { signal: "9" });
      c.running = false;
      c.exitCode = 137;
      c.json = undefined;
      const die = emit(c, "die", { exitCode: "137" });
      containers.delete(id);
      const destroy = emit(c, "destroy");
      return { kill, die, destroy };
    },
    remove(id) {
      const c = containers.get(id);
      if (!c) throw new Error(`Emulated engine: no container "${id}"`);
      containers.delete(id);
      return emit(c, "destroy");
    },
    async close() {
      for (const s of subscribers) subscribers.delete(s);
      await server.stop(true);
      rmSync(socket, { force: true });
    },
  };
}
