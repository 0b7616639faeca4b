import { z } from "./zod.ts";
import { ConfigError } from "./errors.ts";
import { isHostPortError, parseHostPort } from "./hostport.ts";
import { type ContainerFilter, parseFilter } from "./services/filter.ts";

/**
 * Every flag registrator accepts, in one table: it drives the Go-style parser, the
 * REGISTRATOR_<FLAG> environment fallback, the citty help text and the zod validation.
 */
export interface FlagSpec {
  name: string;
  /** "list": repeatable, every occurrence kept in order (an array). */
  kind: "bool" | "string" | "int" | "list";
  default: string | number | boolean | readonly string[];
  description: string;
  /** Printed in help as the value placeholder. */
  hint?: string;
}

export const DEFAULT_HTTP = "127.0.0.1:8485";

export const FLAGS: readonly FlagSpec[] = [
  { name: "ip", kind: "string", default: "", hint: "addr", description: "IP for ports mapped to the host (default: this host's address, see the startup log)" },
  { name: "internal", kind: "bool", default: false, description: "Use the container's internal IP and exposed ports instead of published ones" },
  { name: "explicit", kind: "bool", default: false, description: "Only register containers/ports that have SERVICE_NAME or SERVICE_<port>_NAME" },
  { name: "useIpFromLabel", kind: "string", default: "", hint: "label", description: "Use the IP in this container label (text after the last / is dropped)" },
  { name: "tags", kind: "string", default: "", hint: "a,b", description: "Tags appended to every service: a comma list or a template such as 'env-{{.Config.Hostname}}'" },
  { name: "ttl", kind: "int", default: 0, hint: "s", description: "TTL for services in seconds (0 = none); needs -ttl-refresh" },
  { name: "ttl-refresh", kind: "int", default: 0, hint: "s", description: "How often to refresh the TTL, in seconds; smaller than -ttl" },
  { name: "resync", kind: "int", default: 0, hint: "s", description: "Every N seconds compare the registry with the containers and write the difference (0 = never)" },
  { name: "deregister", kind: "string", default: "always", hint: "always|on-success", description: "When a container stops: always deregister, or only on exit 0 / a signal" },
  { name: "cleanup", kind: "bool", default: false, description: "At startup and each resync, remove this host's services whose container is gone" },
  { name: "retry-attempts", kind: "int", default: 0, hint: "n", description: "Retries of the first registry ping (-1 = forever)" },
  { name: "retry-interval", kind: "int", default: 2000, hint: "ms", description: "Milliseconds between those retries" },
  { name: "consul-sync", kind: "int", default: 30, hint: "s", description: "Consul anti-entropy: every N seconds re-register what the agent (consul-catalog: the catalog) lost (0 = off)" },
  { name: "allow-script-checks", kind: "bool", default: false, description: "Forward SERVICE_CHECK_SCRIPT / CHECK_CMD checks to Consul (off: dropped with a warning)" },
  { name: "deregister-on-exit", kind: "bool", default: false, description: "On SIGTERM/SIGINT deregister every service of this host before exiting" },
  { name: "health", kind: "string", default: "auto", hint: "auto|require|ignore", description: "Docker HEALTHCHECK policy: auto = Consul mirrors health in a check, other backends register only healthy; require = only healthy; ignore = register whatever the health" },
  { name: "deregister-on-stop", kind: "bool", default: true, description: "Take a container's services out of traffic as soon as it is told to stop (Consul: maintenance mode); =false: at its exit" },
  { name: "default-name", kind: "string", default: "image", hint: "image|container|compose", description: "Where a service's name comes from without SERVICE_NAME: the image, the container name, or Compose's service label (else the image)" },
  { name: "network", kind: "string", default: "", hint: "name", description: "Docker network whose container IP is registered when the container's own IP is (-internal, user-defined networks)" },
  { name: "filter", kind: "list", default: [], hint: "expr", description: "Register only containers matching it; repeatable, all must match: label=K, label=K=V, label!=K, label!=K=V, name=REGEX, network=NAME, image=REGEX" },
  { name: "http", kind: "string", default: DEFAULT_HTTP, hint: "addr", description: "Address of the HTTP API (health, metrics, services); \"\" disables it" },
  { name: "http-allowed-hosts", kind: "string", default: "", hint: "a,b", description: "Host names the HTTP API answers besides localhost/127.0.0.1/[::1] (guard against DNS rebinding; with a non-loopback -http and no list, any)" },
  { name: "log-format", kind: "string", default: "text", hint: "text|json", description: "Log format" },
  { name: "log-level", kind: "string", default: "info", hint: "level", description: "debug, info, warn or error" },
  { name: "version", kind: "bool", default: false, description: "Print the version and exit" },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name.toLowerCase(), f]));

export type RawFlags = Record<string, string | boolean | string[]>;

/** Go `flag` package syntax: -f v, -f=v, --f v, --f=v, bare -bool, -bool=false; stops at the first non-flag or `--`. */
export function parseGoFlags(argv: string[]): { flags: RawFlags; rest: string[] } {
  const flags: RawFlags = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-" || !a.startsWith("-")) break;
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const spec = BY_NAME.get(key.toLowerCase()) ?? (key === "h" || key === "help" ? undefined : null);
    if (spec === undefined) {
      flags.help = true;
      continue;
    }
    if (spec === null) throw new ConfigError(`Unknown flag "-${key}": run "registrator --help" for the list of flags`);
    if (spec.kind === "bool") {
      flags[spec.name] = eq >= 0 ? body.slice(eq + 1) : true;
      continue;
    }
    let v: string;
    if (eq >= 0) {
      v = body.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`Flag "-${spec.name}" needs a value (${spec.hint ?? "value"})`);
      v = next;
      i++;
    }
    if (spec.kind === "list") {
      const prev = flags[spec.name];
      flags[spec.name] = Array.isArray(prev) ? [...prev, v] : [v];
    } else flags[spec.name] = v;
  }
  return { flags, rest: argv.slice(i) };
}

/** REGISTRATOR_<FLAG> for every flag: dashes become underscores, case-insensitive (REGISTRATOR_TTL_REFRESH, REGISTRATOR_USEIPFROMLABEL). */
export function flagsFromEnv(env: Record<string, string | undefined>): RawFlags {
  const out: RawFlags = {};
  for (const spec of FLAGS) {
    const plain = "REGISTRATOR_" + spec.name.toUpperCase().replace(/-/g, "_");
    const snake = "REGISTRATOR_" + spec.name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/-/g, "_");
    const v = env[plain] ?? env[snake];
    // A repeatable flag from one variable: one value per line (a regular expression may hold commas or spaces).
    if (v !== undefined) out[spec.name] = spec.kind === "list" ? v.split("\n").filter((l) => l.trim() !== "") : v;
  }
  return out;
}

/** An invalid value: the issue zod reports, whose message loadConfig prints. */
function invalid(ctx: { issues: unknown[] }, input: unknown, message: string): never {
  ctx.issues.push({ code: "custom", message, input });
  return z.NEVER;
}

const bool = (flag: string) =>
  z.pipe(
    z.union([z.boolean(), z.string()]),
    z.transform((v: boolean | string, ctx) => {
      if (typeof v === "boolean") return v;
      const s = v.trim().toLowerCase();
      if (["1", "t", "true", "yes", "on"].includes(s)) return true;
      if (["0", "f", "false", "no", "off", ""].includes(s)) return false;
      return invalid(ctx, v, `Invalid value "${v}" for flag -${flag}: expected true or false`);
    }),
  );

const int = (flag: string, min: number, what: string) =>
  z.pipe(
    z.union([z.number(), z.string()]),
    z.transform((v: number | string, ctx) => {
      const s = String(v).trim();
      const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
      if (!Number.isSafeInteger(n) || n < min) return invalid(ctx, v, `Invalid value "${v}" for flag -${flag}: expected ${what}`);
      return n;
    }),
  );

const oneOf = <T extends string>(flag: string, values: readonly T[]) =>
  z.pipe(
    z.union([z.string(), z.boolean()]),
    z.transform((v: string | boolean, ctx): T => {
      const s = String(v);
      if ((values as readonly string[]).includes(s)) return s as T;
      return invalid(ctx, v, `Invalid value "${s}" for flag -${flag}: expected one of ${values.join(", ")}`);
    }),
  );

const str = z.pipe(z.union([z.string(), z.boolean()]), z.transform((v: string | boolean) => String(v)));

/** A string flag that must pass `ok`, else `message`. */
const strWhere = (ok: (s: string) => boolean, message: string) => str.check(z.refine(ok, { message }));

/** `-network`: "" (none) or a Docker network name; a leading "-" is a flag that took the name's place. */
const dockerNetwork = z.pipe(
  z.union([z.string(), z.boolean()]),
  z.transform((v: string | boolean, ctx) => {
    const s = String(v);
    if (s === "" || /^[A-Za-z0-9][^\s/\\]*$/.test(s)) return s;
    return invalid(ctx, v, `Invalid value "${s}" for flag -network: expected a Docker network name such as backend`);
  }),
);

/** -filter: every expression parsed now, so a bad one exits 2 naming the flag. */
const filters = z.pipe(
  z.union([z.array(z.string()), z.string()]),
  z.transform((v: string[] | string, ctx) => {
    const out: ContainerFilter[] = [];
    for (const expr of typeof v === "string" ? [v] : v) {
      const f = parseFilter(expr);
      if ("error" in f) return invalid(ctx, expr, `Invalid value for flag -filter: ${f.error}`);
      out.push(f);
    }
    return out;
  }),
);

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const looksLikeIp = (s: string) => ipv4.test(s) || (s.includes(":") && /^[0-9a-fA-F:.]+$/.test(s));

export const ConfigSchema = z
  .object({
    ip: strWhere((s) => s === "" || looksLikeIp(s), "Invalid value for flag -ip: expected an IPv4 or IPv6 address such as 10.0.0.5"),
    internal: bool("internal"),
    explicit: bool("explicit"),
    useIpFromLabel: str,
    tags: str,
    ttl: int("ttl", 0, "a whole number of seconds, 0 or more"),
    "ttl-refresh": int("ttl-refresh", 0, "a whole number of seconds, 0 or more"),
    resync: int("resync", 0, "a whole number of seconds, 0 or more"),
    deregister: oneOf("deregister", ["always", "on-success"] as const),
    cleanup: bool("cleanup"),
    "retry-attempts": int("retry-attempts", -1, "a whole number, -1 (forever) or more"),
    "retry-interval": int("retry-interval", 1, "a whole number of milliseconds, 1 or more"),
    "consul-sync": int("consul-sync", 0, "a whole number of seconds, 0 or more"),
    "allow-script-checks": bool("allow-script-checks"),
    "deregister-on-exit": bool("deregister-on-exit"),
    health: oneOf("health", ["auto", "require", "ignore"] as const),
    "deregister-on-stop": bool("deregister-on-stop"),
    "default-name": oneOf("default-name", ["image", "container", "compose"] as const),
    network: dockerNetwork,
    filter: filters,
    http: strWhere((s) => s === "" || listenAddress(s) !== null, 'Invalid value for flag -http: expected host:port such as 127.0.0.1:8485, or "" to disable'),
    "http-allowed-hosts": strWhere(
      (s) => s.split(",").every((h) => h.trim() === "" || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.:-]+)$/.test(h.trim())),
      "Invalid value for flag -http-allowed-hosts: expected host names or addresses separated by commas, such as registrator.example,10.0.0.5",
    ),
    "log-format": oneOf("log-format", ["text", "json"] as const),
    "log-level": oneOf("log-level", ["debug", "info", "warn", "error"] as const),
    version: bool("version"),
  })
  .check(
    z.superRefine((c, ctx) => {
      if ((c.ttl > 0) !== (c["ttl-refresh"] > 0)) {
        ctx.addIssue({
          code: "custom",
          message: `Flags -ttl and -ttl-refresh go together: got -ttl ${c.ttl} and -ttl-refresh ${c["ttl-refresh"]}; set both, e.g. -ttl 30 -ttl-refresh 10`,
        });
      } else if (c.ttl > 0 && c.ttl <= c["ttl-refresh"]) {
        ctx.addIssue({
          code: "custom",
          message: `Flag -ttl (${c.ttl}) must be greater than -ttl-refresh (${c["ttl-refresh"]}) so entries are refreshed before they expire`,
        });
      }
    }),
  );

export type Flags = z.output<typeof ConfigSchema>;

export interface Config extends Flags {
  /** The first registry URI; local:// when none was given. */
  uri: string;
  /** Every registry URI, in the order given (at least one). */
  uris: string[];
  /** True when -http was given explicitly (a bind failure is then fatal). */
  httpExplicit: boolean;
}

/** `-http`'s host:port as a listener takes it: no host is 127.0.0.1, port 0 is any free port; null when invalid. */
export function listenAddress(s: string): { hostname: string; port: number } | null {
  const r = parseHostPort(s, { defaultHost: "127.0.0.1", minPort: 0 });
  return isHostPortError(r) ? null : { hostname: r.host, port: r.port };
}

/** The registries after the flags: each written to on its own; none means local://. */
function registryUris(rest: string[]): string[] {
  const flag = rest.find((a) => a.startsWith("-"));
  if (flag !== undefined) {
    const after = rest.indexOf(flag) > 0 ? ` after the registry URI "${rest[0]}"` : "";
    throw new ConfigError(`Unexpected "${flag}"${after}: flags go before the registry URIs, e.g. registrator -ip 10.0.0.5 consul://localhost:8500 local://`);
  }
  const seen = new Map<string, string>();
  for (const uri of rest) {
    // The same registry written twice would have two writers fight over every entry.
    const key = uri.replace(/^([a-z0-9+.-]+):/i, (m) => m.toLowerCase()).replace(/\/+$/, "");
    const first = seen.get(key);
    if (first !== undefined) throw new ConfigError(`Registry URI "${uri}" is given twice${first !== uri ? ` (as "${first}")` : ""}: each registry once, e.g. registrator etcd://127.0.0.1:2379 local://`);
    seen.set(key, uri);
  }
  return rest.length > 0 ? rest : ["local://"];
}

/** Flags (winning) over REGISTRATOR_* env over defaults → a validated Config. Throws ConfigError with one line. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): Config {
  const { flags, rest } = parseGoFlags(argv);
  const fromEnv = flagsFromEnv(env);
  const merged: Record<string, unknown> = {};
  for (const spec of FLAGS) merged[spec.name] = flags[spec.name] ?? fromEnv[spec.name] ?? spec.default;
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(parsed.error.issues[0]?.message ?? "Invalid configuration");
  const uris = registryUris(rest);
  return { ...parsed.data, uri: uris[0]!, uris, httpExplicit: flags.http !== undefined || fromEnv.http !== undefined };
}

export function wantsHelp(argv: string[]): boolean {
  try {
    return parseGoFlags(argv).flags.help === true;
  } catch {
    return false;
  }
}
