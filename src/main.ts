// The program: flags, the `services` command, the daemon. Loaded by cli.ts.
import type { ArgDef, ArgsDef, CommandDef } from "citty";
import { FLAGS, type FlagSpec, flagHint, loadConfig, wantsHelp } from "./config.ts";
import { ConfigError, errorMessage, redactSecrets } from "./errors.ts";
import { escapeControl } from "./log.ts";
import { runtime } from "./runtime/index.ts";
import { writeLine } from "./runtime/output.ts";
import { VERSION } from "./version.ts";

// Only what parsing the flags needs loads before them: the daemon, the `services` command and
// citty (help only) are imported when taken, so `-version` and the first registration do not
// wait for code they do not run (bench/startup.ts).
const renderUsage = async (cmd: CommandDef, parent?: CommandDef) => (await import("citty")).renderUsage(cmd, parent);
/** citty's defineCommand is the identity; this keeps citty itself out of startup. */
const defineCommand = <T extends CommandDef>(def: T): T => def;

// citty describes the command line (help text), generated from the flag table; parsing is
// Go-flag compatible (config.ts), because registrator's users write `-ip 10.0.0.5 -internal consul://…`.
function helpArg(f: FlagSpec): ArgDef {
  const description = f.kind === "list" ? `${f.description} (repeatable)` : f.description;
  if (f.kind === "bool") return { type: "boolean", description };
  if (f.kind === "enum") return { type: "enum", description, options: [...f.values], default: f.default };
  const shown = f.kind === "list" ? f.default.join(",") : String(f.default);
  return { type: "string", description, valueHint: flagHint(f), ...(shown === "" ? {} : { default: shown }) };
}

const args: ArgsDef = Object.fromEntries([
  ...(FLAGS as readonly FlagSpec[]).map((f) => [f.name, helpArg(f)]),
  ["registry", { type: "positional", required: false, description: "Registry URIs, one or more (default local://, the embedded registry)", valueHint: "uri …" }],
]);

const servicesCmd = defineCommand({
  meta: { name: "services", description: "List the services running containers would produce, and why ports are ignored (no registry is touched). Accepts the daemon's flags and --json." },
  args: { json: { type: "boolean", description: "Print JSON" } },
});

const main = defineCommand({
  meta: {
    name: "registrator",
    version: VERSION,
    description:
      "Registers Docker containers' ports in Consul, Consul KV, etcd, SkyDNS 2/CoreDNS or ZooKeeper. Usage: registrator [options] [registry-uri …] (several URIs: each registry written on its own). Every flag can also be set as REGISTRATOR_<FLAG>.",
  },
  args,
  subCommands: { services: servicesCmd },
});

async function run(): Promise<number> {
  const rt = runtime();
  const argv = rt.args();
  const out = (s: string) => writeLine(1, s);
  if (argv[0] === "services") {
    const rest = argv.slice(1).filter((a) => !/^--?json$/.test(a));
    if (wantsHelp(rest)) {
      out(await renderUsage(servicesCmd as CommandDef, main));
      return 0;
    }
    const { servicesCommand } = await import("./services-command.ts");
    return servicesCommand(loadConfig(rest, rt.envAll()), rt, rest.length !== argv.length - 1, out);
  }
  if (wantsHelp(argv)) {
    out(await renderUsage(main));
    return 0;
  }
  const config = loadConfig(argv, rt.envAll());
  if (config.version) {
    out(VERSION);
    return 0;
  }
  const { runDaemon } = await import("./daemon.ts");
  return runDaemon(config, rt, VERSION);
}

// The only place that exits the process.
run().then(
  (code) => runtime().exit(code),
  (e) => {
    writeLine(2, `registrator: ${escapeControl(redactSecrets(errorMessage(e)))}`);
    runtime().exit(e instanceof ConfigError ? 2 : 1);
  },
);
