// build.ts's command line.
import { EXTRA_TARGETS, hostTarget, TARGETS, type Target } from "./compile.ts";

export interface BuildArgs {
  help: boolean;
  recordOrder: boolean;
  /** undefined: every target in TARGETS (or this machine's alone with --image). */
  target?: Target;
  image: boolean;
  bytecode: boolean;
  smol: boolean;
}

function normalizeTarget(value: string): Target {
  const t = value.startsWith("bun-") ? value : `bun-${value}`;
  const known: readonly string[] = [...TARGETS, ...EXTRA_TARGETS];
  if (!known.includes(t)) throw new Error(`Invalid --target "${value}": expected one of ${known.join(", ")}`);
  return t as Target;
}

export function usage(): string {
  return [
    "Usage: bun run build.ts [--target <target>] [--image] [--no-bytecode] [--smol] | --record-order",
    `  --target <t>   build only this target (${[...TARGETS, ...EXTRA_TARGETS].join(", ")}; "bun-" optional)`,
    "  --image        build this machine's target (linux-x64 or linux-arm64) and assemble dist/image,",
    "                 then: docker build -t registrator dist/image",
    "  --no-bytecode  do not precompile JavaScript to bytecode (smaller file, slower start)",
    "  --record-order record bytecode.order (which bytecode a daemon run uses) and exit",
    "  --smol         embed bun's --smol (smaller heap, more GC) as a runtime argument",
  ].join("\n");
}

/** Throws an Error naming the bad argument (with the usage) on anything it does not know. */
export function parseArgs(argv: string[]): BuildArgs {
  const args: BuildArgs = { help: false, recordOrder: false, image: false, bytecode: true, smol: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") args.help = true;
    else if (arg === "--image") args.image = true;
    else if (arg === "--bytecode") args.bytecode = true;
    else if (arg === "--no-bytecode") args.bytecode = false;
    else if (arg === "--record-order") args.recordOrder = true;
    else if (arg === "--smol") args.smol = true;
    else if (arg === "--target") args.target = normalizeTarget(argv[++i] ?? "");
    else if (arg.startsWith("--target=")) args.target = normalizeTarget(arg.slice("--target=".length));
    else throw new Error(`Invalid argument "${arg}"\n${usage()}`);
  }
  if (args.image && args.target && args.target !== hostTarget()) {
    const host = hostTarget().replace(/^bun-/, "");
    throw new Error(`Invalid --target "${args.target}" with --image: the image holds this machine's target, ${host} (its libraries are copied from here)`);
  }
  return args;
}
