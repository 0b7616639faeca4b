import { z } from "./zod.ts";
import { ConfigError } from "./errors.ts";
import { isHostPortError, parseHostPort } from "./hostport.ts";
import { LOG_FORMATS, LOG_LEVELS } from "./log.ts";
import { DEFAULT_NAMES, HEALTH_MODES } from "./services/derive.ts";
import { parseFilter } from "./services/filter.ts";
import { parseIpFlag } from "./host-address.ts";

interface FlagCommon {
  /** As typed after `-`; matched case-insensitively (`-useIpFromLabel`). */
  name: string;
  description: string;
  /** Printed in help as the value placeholder (enums: their values). */
  hint?: string;
}

/**
 * One row per flag, with its validation: the Go-style parser, the REGISTRATOR_<FLAG> environment
 * fallback, citty's help and the zod schema are all generated from these rows, so adding a flag
 * is adding a row. Rules between flags (-ttl with -ttl-refresh) are schema-level checks below.
 */
export type FlagSpec = FlagCommon &
  (
    | { kind: "bool"; default: boolean }
    /** A whole number from `min`; the message says `a whole number[ of <unit>], <min>[ (<minNote>)] or more`. */
    | { kind: "int"; default: number; min: number; unit?: string; minNote?: string }
    | { kind: "enum"; default: string; values: readonly string[] }
    /** `check` refuses a value, and the message says what was `expected`; `problem` gives the whole message itself. */
    | { kind: "string"; default: string; check?: (s: string) => boolean; expected?: string; problem?: (s: string) => string | undefined }
    /** Repeatable: each occurrence adds one value (checked one by one); from the environment, one value. */
    /** `parse` turns each value into what the program uses, or says why it cannot (the message quotes it whole). */
    | { kind: "list"; default: readonly string[]; check?: (s: string) => boolean; expected?: string; parse?: (s: string) => unknown }
  );

export const DEFAULT_HTTP = "127.0.0.1:8485";

export const FLAGS = [
  { name: "ip", kind: "string", default: "", hint: "addr|iface|cidr", description: "IP for ports mapped to the host: an address, an interface (eth0: its first IPv4) or a range (10.0.0.0/8: this host's first address in it), both looked up again every 30 s (default: this host's address, see the startup log)", problem: (s) => { const r = parseIpFlag(s); return r && "error" in r ? r.error : undefined; } },
  { name: "hostname", kind: "string", default: "", hint: "name", description: "Host name in service IDs, -cleanup ownership and the embedded registry's node (default: the OS host name; in a container named by its own ID, the Docker engine's host name)", check: (s) => s === "" || /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,252})$/.test(s), expected: 'a host name such as docker-host-1 (letters, digits, . _ -; no ":" or "/")' },
  { name: "internal", kind: "bool", default: false, description: "Use the container's internal IP and exposed ports instead of published ones" },
  { name: "explicit", kind: "bool", default: false, description: "Only register containers/ports that have SERVICE_NAME or SERVICE_<port>_NAME" },
  { name: "useIpFromLabel", kind: "string", default: "", hint: "label", description: "Use the IP in this container label (text after the last / is dropped)" },
  { name: "tags", kind: "string", default: "", hint: "a,b", description: "Tags appended to every service: a comma list or a template such as 'env-{{.Config.Hostname}}'" },
  { name: "ttl", kind: "int", default: 0, min: 0, unit: "seconds", hint: "s", description: "TTL for services in seconds (0 = none); needs -ttl-refresh" },
  { name: "ttl-refresh", kind: "int", default: 0, min: 0, unit: "seconds", hint: "s", description: "How often to refresh the TTL, in seconds; smaller than -ttl" },
  { name: "resync", kind: "int", default: 0, min: 0, unit: "seconds", hint: "s", description: "Every N seconds compare the registry with the containers and write the difference (0 = never)" },
  { name: "deregister", kind: "enum", default: "always", values: ["always", "on-success"], description: "When a container stops: always deregister, or only on exit 0 / a signal" },
  { name: "cleanup", kind: "bool", default: false, description: "At startup and each resync, remove this host's services whose container is gone" },
  { name: "retry-attempts", kind: "int", default: 0, min: -1, minNote: "forever", hint: "n", description: "Retries of the first registry ping (-1 = forever)" },
  { name: "retry-interval", kind: "int", default: 2000, min: 1, unit: "milliseconds", hint: "ms", description: "Milliseconds between those retries" },
  { name: "consul-sync", kind: "int", default: 30, min: 0, unit: "seconds", hint: "s", description: "Consul anti-entropy: every N seconds re-register what the agent (consul-catalog: the catalog) lost (0 = off)" },
  { name: "allow-script-checks", kind: "bool", default: false, description: "Forward SERVICE_CHECK_SCRIPT / CHECK_CMD checks to Consul (off: dropped with a warning)" },
  { name: "deregister-on-exit", kind: "bool", default: false, description: "On SIGTERM/SIGINT deregister every service of this host before exiting" },
  { name: "health", kind: "enum", default: "auto", values: HEALTH_MODES, description: "Docker HEALTHCHECK policy: auto = Consul mirrors health in a check, other backends register only healthy; require = only healthy; ignore = register whatever the health" },
  { name: "deregister-on-stop", kind: "bool", default: true, description: "Take a container's services out of traffic as soon as it is told to stop (Consul: maintenance mode); =false: at its exit" },
  { name: "default-name", kind: "enum", default: "image", values: DEFAULT_NAMES, description: "Where a service's name comes from without SERVICE_NAME: the image, the container name, or Compose's service label (else the image)" },
  // A leading "-" is a flag that took the name's place.
  { name: "network", kind: "string", default: "", hint: "name", description: "Docker network whose container IP is registered when the container's own IP is (-internal, user-defined networks)", check: (s) => s === "" || /^[A-Za-z0-9][^\s/\\]*$/.test(s), expected: "a Docker network name such as backend" },
  { name: "filter", kind: "list", default: [], hint: "expr", description: "Register only containers matching it; repeatable, all must match: label=K, label=K=V, label!=K, label!=K=V, name=REGEX, network=NAME, image=REGEX", parse: parseFilter },
  { name: "http", kind: "string", default: DEFAULT_HTTP, hint: "addr", description: "Address of the HTTP API (health, metrics, services); \"\" disables it", check: (s) => s === "" || listenAddress(s) !== null, expected: 'host:port such as 127.0.0.1:8485, or "" to disable' },
  { name: "http-allowed-hosts", kind: "string", default: "", hint: "a,b", description: "Host names the HTTP API answers besides localhost/127.0.0.1/[::1] (guard against DNS rebinding; with a non-loopback -http and no list, any)", check: (s) => s.split(",").every((h) => h.trim() === "" || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.:-]+)$/.test(h.trim())), expected: "host names or addresses separated by commas, such as registrator.example,10.0.0.5" },
  { name: "log-format", kind: "enum", default: "text", values: LOG_FORMATS, description: "Log format" },
  { name: "log-level", kind: "enum", default: "info", values: LOG_LEVELS, description: "Log level" },
  { name: "version", kind: "bool", default: false, description: "Print the version and exit" },
] as const satisfies readonly FlagSpec[];

/** The value a row's flag has after validation. */
type FlagValue<F> = F extends { kind: "bool" }
  ? boolean
  : F extends { kind: "int" }
    ? number
    : F extends { kind: "enum"; values: readonly (infer V)[] }
      ? V
      : F extends { kind: "list"; parse: (s: string) => infer R }
        ? Exclude<R, { error: string }>[]
        : F extends { kind: "list" }
        ? string[]
        : string;

export type Flags = { -readonly [F in (typeof FLAGS)[number] as F["name"]]: FlagValue<F> };

const byName = (table: readonly FlagSpec[]) => new Map<string, FlagSpec>(table.map((f) => [f.name.toLowerCase(), f]));
const BY_NAME = byName(FLAGS);

/** The placeholder help shows after a flag that takes a value. */
export function flagHint(f: FlagSpec): string | undefined {
  return f.kind === "enum" ? f.values.join("|") : f.kind === "bool" ? undefined : (f.hint ?? "value");
}

export type RawFlags = Record<string, string | boolean | string[]>;

/** Go `flag` package syntax: -f v, -f=v, --f v, --f=v, bare -bool, -bool=false; stops at the first non-flag or `--`. */
export function parseGoFlags(argv: string[], table: readonly FlagSpec[] = FLAGS): { flags: RawFlags; rest: string[] } {
  const known = table === FLAGS ? BY_NAME : byName(table);
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
    const spec = known.get(key.toLowerCase()) ?? (key === "h" || key === "help" ? undefined : null);
    if (spec === undefined) {
      flags.help = true;
      continue;
    }
    if (spec === null) throw new ConfigError(`Unknown flag "-${key}": run "registrator --help" for the list of flags`);
    let value: string | boolean;
    if (spec.kind === "bool") {
      value = eq >= 0 ? body.slice(eq + 1) : true;
    } else if (eq >= 0) {
      value = body.slice(eq + 1);
    } else {
      const v = argv[i + 1];
      if (v === undefined) throw new ConfigError(`Flag "-${spec.name}" needs a value (${flagHint(spec)})`);
      value = v;
      i++;
    }
    if (spec.kind === "list") {
      const prev = flags[spec.name];
      flags[spec.name] = [...(Array.isArray(prev) ? prev : []), String(value)];
    } else {
      flags[spec.name] = value;
    }
  }
  return { flags, rest: argv.slice(i) };
}

/** REGISTRATOR_<FLAG> for every flag: dashes become underscores, case-insensitive (REGISTRATOR_TTL_REFRESH, REGISTRATOR_USEIPFROMLABEL). */
export function flagsFromEnv(env: Record<string, string | undefined>, table: readonly FlagSpec[] = FLAGS): RawFlags {
  const out: RawFlags = {};
  for (const spec of table) {
    const plain = "REGISTRATOR_" + spec.name.toUpperCase().replace(/-/g, "_");
    const snake = "REGISTRATOR_" + spec.name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/-/g, "_");
    const v = env[plain] ?? env[snake];
    // A repeatable flag from one variable: one value per line (a regular expression may hold commas or spaces).
    if (v !== undefined) out[spec.name] = spec.kind === "list" ? v.split("\n").filter((l) => l.trim() !== "") : v;
  }
  return out;
}

/** An invalid value: the issue zod reports, whose message loadConfig prints. */
function invalid(ctx: { issues: unknown[] }, input: unknown, flag: string, expected: string): never {
  ctx.issues.push({ code: "custom", message: `Invalid value "${String(input)}" for flag -${flag}: expected ${expected}`, input });
  return z.NEVER;
}

const TRUE = ["1", "t", "true", "yes", "on"];
const FALSE = ["0", "f", "false", "no", "off", ""];

type Issues = { issues: unknown[] };

/** One row's text as its value; a refused value adds its issue to `ctx` and gives z.NEVER. */
function convert(f: FlagSpec, v: unknown, ctx: Issues): unknown {
  switch (f.kind) {
    case "bool": {
      if (typeof v === "boolean") return v;
      const s = String(v).trim().toLowerCase();
      if (TRUE.includes(s)) return true;
      if (FALSE.includes(s)) return false;
      return invalid(ctx, v, f.name, "true or false");
    }
    case "int": {
      const s = String(v).trim();
      const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
      if (Number.isSafeInteger(n) && n >= f.min) return n;
      return invalid(ctx, v, f.name, `a whole number${f.unit ? ` of ${f.unit}` : ""}, ${f.min}${f.minNote ? ` (${f.minNote})` : ""} or more`);
    }
    case "enum":
      return f.values.includes(String(v)) ? String(v) : invalid(ctx, v, f.name, `one of ${f.values.join(", ")}`);
    case "string": {
      const why = f.problem?.(String(v));
      if (why !== undefined) {
        ctx.issues.push({ code: "custom", message: why, input: v });
        return z.NEVER;
      }
      return !f.check || f.check(String(v)) ? String(v) : invalid(ctx, v, f.name, f.expected ?? "a valid value");
    }
    case "list": {
      const vs = v as unknown[];
      const bad = vs.find((x) => f.check && !f.check(String(x)));
      if (bad !== undefined) return invalid(ctx, bad, f.name, f.expected ?? "a valid value");
      if (!f.parse) return vs.map(String);
      const out: unknown[] = [];
      for (const x of vs) {
        const parsed = f.parse(String(x));
        if (parsed !== null && typeof parsed === "object" && "error" in parsed) {
          ctx.issues.push({ code: "custom", message: `Invalid value for flag -${f.name}: ${String(parsed.error)}`, input: x });
          return z.NEVER;
        }
        out.push(parsed);
      }
      return out;
    }
  }
}

// A flag's value arrives as text (a flag, an environment variable, a default), or a list of them.
// Two shared schemas and one transform for the whole table: each schema zod builds costs startup
// time, and the rows already hold every rule (bench/startup.ts).
const TEXT = z.union([z.string(), z.boolean(), z.number()]);
const TEXTS = z.array(TEXT);

/** The zod schema of one row: how its text becomes a value, and what it refuses. */
export function flagSchema(f: FlagSpec): z.ZodMiniType {
  return z.pipe(f.kind === "list" ? TEXTS : TEXT, z.transform((v, ctx) => convert(f, v, ctx)));
}

export const ConfigSchema = z
  .pipe(
    z.object(Object.fromEntries((FLAGS as readonly FlagSpec[]).map((f) => [f.name, f.kind === "list" ? TEXTS : TEXT]))),
    z.transform((raw, ctx) => {
      const out: Record<string, unknown> = {};
      for (const f of FLAGS as readonly FlagSpec[]) {
        const value = convert(f, raw[f.name], ctx);
        if (value === z.NEVER) return z.NEVER;
        out[f.name] = value;
      }
      return out;
    }),
  )
  .check(
    z.superRefine((raw, ctx) => {
      const c = raw as Flags;
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
  ) as unknown as z.ZodMiniType<Flags>;

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
  for (const spec of FLAGS as readonly FlagSpec[]) merged[spec.name] = flags[spec.name] ?? fromEnv[spec.name] ?? spec.default;
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
