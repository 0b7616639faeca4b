// Generated hostile metadata (issue 11 item 8): seeded containers whose names, IDs, ports, env and
// labels carry path escapes, percent-encodings, look-alike slashes and dots, control characters,
// huge values, thousands of keys, case-twin keys, bad durations, `consul-` Meta keys, templates and
// prototype names go through validation, derivation and every backend's key/URL/body builder.
// Asserted: nothing throws except a backend's own refusal; no key or URL leaves its prefix (raw,
// after WHATWG URL parsing, after percent-decoding); no raw control character in keys, URLs or
// text log lines. The figures are printed (and cited in docs/development.md, Tests).
import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { expect, test } from "bun:test";
import { Bridge } from "../../../src/bridge/bridge.ts";
import { type ContainerInspect, validInspect } from "../../../src/docker/schema.ts";
import { RegistryError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/log.ts";
import { ConsulAdapter, consulFactory, deregisterPath } from "../../../src/registries/consul.ts";
import { metaProblem } from "../../../src/registries/consul-checks.ts";
import { type ConsulKvAdapter, consulKvFactory } from "../../../src/registries/consulkv.ts";
import { v2KeyPath } from "../../../src/registries/etcd-client.ts";
import { etcdLayout } from "../../../src/registries/etcd.ts";
import { skydnsLayout } from "../../../src/registries/skydns2.ts";
import { type ZookeeperAdapter, zkNameProblem, zookeeperFactory } from "../../../src/registries/zookeeper.ts";
import { deriveServices } from "../../../src/services/derive.ts";
import { parseGoDurationNs } from "../../../src/services/duration.ts";
import { compileTags } from "../../../src/services/template.ts";
import type { RegistryAdapter, Service, ServiceRef } from "../../../src/types.ts";
import { adapterContext } from "../../support/fixtures.ts";
import { container } from "../builders.ts";

const SEED = 0x5eed11;
const CONTAINERS = 2_000;

/** mulberry32: a small seeded PRNG, so every run generates the same containers. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

// Pieces that have broken path handling, URL parsing or log lines somewhere.
const HOSTILE = [
  "..", ".", "/", "\\", "../..", "..\\..", "%2e%2e", "%2E%2E%2F", "%2f", "%5c", "%00", "%0a", "%", "%%", "?", "#", "?x=1#y",
  "\u2215", "\u2044", "\uff0f", "\u29f8", "\uff0e\uff0e", "\u2024\u2024", "\u3002", "\ufe52", // look-alike slashes and dots
  "\u0000", "\u0007", "\u001b[31m", "\r", "\n", "\r\n", "\u2028", "\u2029", "\u0085", "\u007f", "\t",
  "\n2026-11-27T10:00:00.000Z info  removed: 0123456789ab host:payments:443",
  "{{.ID}}", "{{ index .Config.Labels \"x\" }}", "{{", "}}", "{{/*", "{{ printf \"%s\" 1 }}",
  "constructor", "__proto__", "toString", "hasOwnProperty",
  "\u{1F680}", "\ue000", "\ufffe", "\ud800", "東京", "Zürich", "İ", "ß",
  "", " ", "consul-", "a".repeat(600), ":", "::", "[::1]", "0", "-1", "65536", "1e3",
];
const DURATIONS = ["10s", "9999999999h", "2562048h", "1d", "-5s", "0", "NaN", "1.5", "", "5m\n", "\u0661s", "2562047h47m16.854775807s", "-0s"];
const KEYS = [
  "NAME", "ID", "TAGS", "IGNORE", "CHECK_HTTP", "CHECK_TCP", "CHECK_INTERVAL", "CHECK_TIMEOUT", "CHECK_TTL", "CHECK_SCRIPT",
  "CHECK_DEREGISTER_AFTER", "CHECK_INITIAL_STATUS", "CHECK_GRPC", "ENABLE_TAG_OVERRIDE", "PRIORITY", "WEIGHT", "HEALTH",
  "NETWORK", "IP_FAMILY", "CONSUL-TOKEN", "consul-x", "VERSION", "ZONE", "__PROTO__", "CONSTRUCTOR",
];
const PORT_KEYS = ["80/tcp", "53/udp", "443/tcp", "0/tcp", "65535/tcp", "65536/tcp", "-1/tcp", "80", "80/sctp", "80/TCP", "abc/tcp", "\uff18\uff10/tcp", "80/tcp/x", "8080/tcp", "__proto__", "constructor"];

type Rng = ReturnType<typeof prng>;

function hostileText(r: Rng, max = 4): string {
  let s = "";
  for (let n = r.int(max) + 1; n > 0; n--) s += r.next() < 0.6 ? r.pick(HOSTILE) : r.pick(["web", "svc", "a", "1", "-", "_"]);
  return s;
}

function value(r: Rng): string {
  const roll = r.next();
  if (roll < 0.02) return "v".repeat(100_000) + hostileText(r);
  if (roll < 0.15) return r.pick(DURATIONS);
  if (roll < 0.2) return String(r.int(70_000));
  return hostileText(r);
}

/** A JSON object text → object as JSON.parse gives it (so "__proto__" and case twins stay keys). */
const jsonObject = (entries: Array<[string, unknown]>) =>
  JSON.parse(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);

/** One generated container as Docker's inspect JSON would carry it. */
function generate(r: Rng, i: number): unknown {
  const raw = JSON.parse(JSON.stringify(container({ name: `gen${i}` })));
  raw.Name = `/${r.next() < 0.5 ? `gen${i}` : hostileText(r)}`;
  if (r.next() < 0.1) raw.Id = hostileText(r);
  const ports: Array<[string, unknown]> = [];
  for (let n = r.int(4) + 1; n > 0; n--) {
    const key = r.next() < 0.7 ? `${1 + r.int(65535)}/${r.pick(["tcp", "udp"])}` : r.pick(PORT_KEYS);
    const roll = r.next();
    const bindings = roll < 0.1 ? null : [{ HostIp: r.next() < 0.8 ? "0.0.0.0" : hostileText(r), HostPort: r.next() < 0.85 ? String(1 + r.int(65535)) : value(r) }];
    ports.push([key, bindings]);
  }
  raw.NetworkSettings.Ports = jsonObject(ports);
  raw.Config.ExposedPorts = jsonObject(ports.map(([k]) => [k, {}]));
  const entries: Array<[string, string]> = [];
  const many = r.next() < 0.01 ? 3_000 : r.int(12);
  for (let n = 0; n < many; n++) {
    const port = r.next() < 0.3 ? `${ports[r.int(ports.length)]![0].split("/")[0]}_` : "";
    const key = r.next() < 0.75 ? r.pick(KEYS) : hostileText(r, 2);
    const cased = r.next() < 0.2 ? key.toLowerCase() : key;
    entries.push([`SERVICE_${port}${cased}`, value(r)]);
  }
  const env = entries.filter(() => r.next() < 0.5);
  raw.Config.Env = env.map(([k, v]) => `${k}=${v}`);
  if (r.next() < 0.1) raw.Config.Env.push(hostileText(r)); // an entry without "="
  raw.Config.Labels = jsonObject([...entries.filter((e) => !env.includes(e)), ["x", value(r)], [hostileText(r, 2), value(r)]]);
  if (r.next() < 0.2) raw.Config.Hostname = hostileText(r);
  return raw;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The segments of `path` under `prefix`, or a reason why it is not under it. */
function segmentsUnder(path: string, prefix: string, count: number): string | undefined {
  if (!path.startsWith(`${prefix}/`)) return `not under ${prefix}`;
  const segs = path.slice(prefix.length + 1).split("/");
  if (segs.length !== count) return `${segs.length} segments instead of ${count}`;
  for (const s of segs) if (s === "" || s === "." || s === "..") return `segment ${JSON.stringify(s)}`;
  return undefined;
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A key (store path) stays under `prefix` with `count` segments, raw and percent-decoded, without controls. */
function keyProblem(key: string, prefix: string, count: number): string | undefined {
  if (CONTROL.test(key)) return "raw control character";
  const raw = segmentsUnder(key, prefix, count);
  if (raw) return raw;
  const segs = key.slice(prefix.length + 1).split("/").map(decoded);
  for (const s of segs) if (s === "." || s === ".." || s.includes("/") || s.includes("\\")) return `decodes to ${JSON.stringify(s)}`;
  return undefined;
}

/** A URL path stays under `prefix` with `count` segments: raw, after WHATWG parsing, and decoded. */
function urlProblem(path: string, prefix: string, count: number): string | undefined {
  if (CONTROL.test(path)) return "raw control character";
  const url = new URL(`http://127.0.0.1:1${path}`);
  if (url.pathname !== path) return `URL parsing changed it to ${url.pathname}`;
  return keyProblem(url.pathname, prefix, count);
}

test(`${CONTAINERS} generated hostile containers through derivation and every backend's builders`, () => {
  const r = prng(SEED);
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (l) => lines.push(l) });
  const base = adapterContext({ allowScriptChecks: true, ttl: 30 }).ctx;
  const ctx = { ...base, log };
  const consul = consulFactory(parseRegistryUri("consul://127.0.0.1:8500"), ctx) as ConsulAdapter;
  const kv = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/hostile/kv"), ctx) as ConsulKvAdapter;
  const zk = zookeeperFactory(parseRegistryUri("zookeeper://127.0.0.1:2181/hostile/zk"), ctx) as ZookeeperAdapter;
  const etcd = etcdLayout("/hostile/etcd");
  const sky = skydnsLayout("skydns.local", 0, (m) => log.warn(m));
  const tags = compileTags('{{ index .Config.Labels "x" }},{{ .Config.Hostname }},v-{{ strSlice .Name 0 20 }},{{ replace .Name "" "~" 3 }}');
  const opts = { hostname: "host1", defaultHostIp: "192.168.1.10", internal: false, explicit: false, allowScriptChecks: true, tags };

  const figures = { containers: 0, invalidInspect: 0, services: 0, ignoredPorts: 0, warnings: 0, keysChecked: 0, rejections: 0, durations: 0 };
  const problems: string[] = [];
  const unexpected: string[] = [];
  const started = performance.now();

  /** Runs a builder; a RegistryError is the backend refusing (counted), anything else a failure. */
  const build = <T>(what: string, s: Service, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof RegistryError) {
        figures.rejections++;
        log.warn(e.message, { service: s.id });
        return undefined;
      }
      unexpected.push(`${what} ${JSON.stringify(s.id).slice(0, 80)}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      return undefined;
    }
  };
  const check = (what: string, problem: string | undefined, subject: string) => {
    figures.keysChecked++;
    if (problem) problems.push(`${what}: ${problem}: ${JSON.stringify(subject).slice(0, 120)}`);
  };

  for (let i = 0; i < CONTAINERS; i++) {
    figures.containers++;
    const parsed = validInspect(generate(r, i));
    if ("error" in parsed) {
      figures.invalidInspect++;
      continue;
    }
    let result;
    try {
      result = deriveServices(parsed.data, { ...opts, internal: r.next() < 0.2 });
    } catch (e) {
      unexpected.push(`derive container ${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      continue;
    }
    figures.ignoredPorts += result.ignored.length;
    figures.warnings += result.warnings.length;
    for (const w of result.warnings) log.warn(w);
    for (const ig of result.ignored) log.info(`ignored: ${ig.port}: ${ig.reason}`);
    for (const s of result.services) {
      figures.services++;
      log.info(`added: ${s.origin.containerId.slice(0, 12)} ${s.id}`, { name: s.name, ip: s.ip, port: s.port, tags: s.tags.join(",") });

      const ek = build("etcd key", s, () => etcd.key(s));
      if (ek !== undefined) {
        check("etcd v3 key", keyProblem(ek, "/hostile/etcd", 2), ek);
        check("etcd v2 URL", urlProblem(v2KeyPath(ek), "/v2/keys/hostile/etcd", 2), v2KeyPath(ek));
      }
      const sk = build("skydns2 key", s, () => sky.key(s));
      if (sk !== undefined) {
        check("skydns2 key", keyProblem(sk, "/skydns/local/skydns", 2), sk);
        check("skydns2 v2 URL", urlProblem(v2KeyPath(sk), "/v2/keys/skydns/local/skydns", 2), v2KeyPath(sk));
        const rec = JSON.parse(sky.value(s)) as { registrator: string; priority?: number; weight?: number };
        check("skydns2 record", rec.registrator === s.id ? undefined : "record does not name its service", sk);
      }
      const kp = build("consulkv path", s, () => kv.keyPath(s, "register"));
      if (kp !== undefined) check("consulkv URL", urlProblem(kp, "/v1/kv/hostile/kv", 2), kp);
      const zp = build("zookeeper path", s, () => zk.servicePath(s));
      if (zp !== undefined) {
        check("zookeeper path", keyProblem(zp, "/hostile/zk", 2) ?? zp.split("/").map(zkNameProblem).find(Boolean), zp);
      }
      const body = build("consul body", s, () => {
        const d = deregisterPath(s.id);
        check("consul deregister URL", urlProblem(d, "/v1/agent/service/deregister", 1), d);
        return JSON.parse(JSON.stringify(consul.registration(s).body)) as Record<string, unknown>;
      });
      if (body) {
        check("consul body ID", body.ID === s.id ? undefined : "ID changed", String(body.ID));
        for (const [k, v] of Object.entries((body.Meta ?? {}) as Record<string, string>)) check("consul Meta", metaProblem(k, v), k);
        for (const c of (body.Checks ?? []) as Array<Record<string, unknown>>) {
          for (const f of ["Interval", "Timeout", "TTL", "DeregisterCriticalServiceAfter"]) {
            if (c[f] === undefined) continue;
            figures.durations++;
            const ns = parseGoDurationNs(String(c[f]));
            check(`consul check ${f}`, ns === undefined || ns < 0n ? "a duration Go (and the agent) rejects" : undefined, String(c[f]));
          }
        }
      }
    }
  }
  const ms = performance.now() - started;

  for (const l of lines) if (CONTROL.test(l)) problems.push(`log line with a raw control character: ${JSON.stringify(l).slice(0, 160)}`);
  console.error(
    `hostile suite (seed ${SEED.toString(16)}): ${figures.containers} containers, ${figures.invalidInspect} refused by the inspect schema, ` +
      `${figures.services} services, ${figures.ignoredPorts} ports ignored, ${figures.warnings} derivation warnings, ` +
      `${figures.keysChecked} keys/URLs/bodies checked, ${figures.rejections} backend rejections, ${figures.durations} check durations, ` +
      `${lines.length} text log lines, ${problems.length} problems, ${unexpected.length} unexpected throws, ${Math.round(ms)} ms`,
  );
  expect(unexpected.slice(0, 10)).toEqual([]);
  expect(problems.slice(0, 10)).toEqual([]);
  // The generator reaches what it is meant to reach (a suite that checks nothing would pass too).
  expect(figures.services).toBeGreaterThan(1_000);
  expect(figures.rejections).toBeGreaterThan(0);
  expect(figures.warnings).toBeGreaterThan(100);
  expect(figures.durations).toBeGreaterThan(100);
});

test("the same containers through the bridge (sync, derive, write, remove): nothing escapes it, no forged log line", async () => {
  const r = prng(SEED);
  const containers = new Map<string, ContainerInspect>();
  for (let i = 0; i < 500; i++) {
    const parsed = validInspect(generate(r, i));
    if ("error" in parsed) continue;
    parsed.data.Id = `${i.toString(16).padStart(4, "0")}${parsed.data.Id}`; // unique, still hostile
    parsed.data.State.Running = true;
    containers.set(parsed.data.Id, parsed.data);
  }
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (l) => lines.push(l) });
  const ctx = { ...adapterContext({ allowScriptChecks: true }).ctx, log };
  const consul = consulFactory(parseRegistryUri("consul://127.0.0.1:8500"), ctx) as ConsulAdapter;
  const kv = consulKvFactory(parseRegistryUri("consulkv://127.0.0.1:8500/hostile/kv"), ctx) as ConsulKvAdapter;
  const zk = zookeeperFactory(parseRegistryUri("zookeeper://127.0.0.1:2181/hostile/zk"), ctx) as ZookeeperAdapter;
  const etcd = etcdLayout("/hostile/etcd");
  const held = new Map<string, ServiceRef>();
  const problems: string[] = [];
  /** Every backend's builders at once; refusals are RegistryErrors, as the real adapters throw them. */
  const registry: RegistryAdapter = {
    backend: "hostile",
    ping: async () => {},
    register: async (s: Service) => {
      for (const [what, key, prefix, n] of [
        ["etcd", etcd.key(s), "/hostile/etcd", 2],
        ["consulkv", kv.keyPath(s, "register"), "/v1/kv/hostile/kv", 2],
        ["consul", deregisterPath(s.id), "/v1/agent/service/deregister", 1],
      ] as const) {
        const problem = what === "etcd" ? keyProblem(key, prefix, n) : urlProblem(key, prefix, n);
        if (problem) problems.push(`${what}: ${problem}: ${JSON.stringify(key).slice(0, 100)}`);
      }
      consul.registration(s);
      zk.servicePath(s); // a RefusedName (a RegistryError) for names ZooKeeper refuses
      held.set(s.id, s);
    },
    deregister: async (ref: ServiceRef) => void held.delete(ref.id),
    refresh: async () => {},
    close: async () => {},
  };
  const bridge = new Bridge({
    docker: {
      list: async () => [...containers.keys()].map((Id) => ({ Id })),
      inspect: async (id: string) => containers.get(id) ?? null,
    },
    registry,
    derive: (c) => deriveServices(c, { hostname: "host1", defaultHostIp: "192.168.1.10", internal: false, explicit: false, allowScriptChecks: true }),
    hostname: "host1",
    deregister: "always",
    cleanup: false,
    log,
    retryMinMs: 60_000,
  });
  await bridge.syncAll();
  await bridge.flush();
  const registered = held.size;
  for (const c of containers.values()) c.State.Running = false;
  await bridge.syncAll();
  await bridge.flush();
  await bridge.close({ deregisterAll: false, timeoutMs: 1000 });
  for (const l of lines) if (CONTROL.test(l)) problems.push(`log line with a raw control character: ${JSON.stringify(l).slice(0, 160)}`);
  console.error(`hostile suite through the bridge: ${containers.size} containers, ${registered} services registered then removed, ${lines.length} text log lines, ${problems.length} problems`);
  expect(problems.slice(0, 10)).toEqual([]);
  expect(registered).toBeGreaterThan(300);
  expect(held.size).toBe(0);
});
