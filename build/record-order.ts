// Records bytecode.order. The one part of the build that needs bench/: the profile comes from the
// daemon running against bench/engine.ts's emulated Docker Engine, which is also what the
// benchmarks measure, so the layout is tuned for the run they report.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEngine } from "../bench/engine.ts";
import { BYTECODE_ORDER, profileEntries, withNote } from "./bytecode-order.ts";
import { compile, releaseVersion } from "./compile.ts";
import { rel } from "./paths.ts";

/**
 * Runs a fresh linux-x64 executable (built without a profile) as the daemon (embedded registry)
 * with one container, starts and stops another, and stops it with SIGTERM, which writes the
 * profile; then replaces bytecode.order with it.
 */
export async function recordBytecodeOrder(): Promise<void> {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error("Cannot record bytecode.order: it needs to run the linux-x64 executable here");
  const dir = mkdtempSync(join(tmpdir(), "registrator-order-"));
  try {
    const binary = await compile("bun-linux-x64", releaseVersion(), { outfile: join(dir, "registrator"), bytecodeOrder: false });
    const engine = startEngine(join(dir, "docker.sock"));
    engine.add({ name: "first", ports: { 80: 8080 }, env: ["SERVICE_TAGS=a,b"] });
    const out = join(dir, "bytecode.order");
    const proc = Bun.spawn([binary, "-ip", "127.0.0.1", "-http", "127.0.0.1:0", "local://"], {
      env: { ...process.env, DOCKER_HOST: engine.host, BUN_BYTECODE_ORDER_OUT: out },
      stdout: "pipe",
      stderr: "pipe",
    });
    const until = async (what: string, done: () => boolean) => {
      for (const deadline = Date.now() + 20_000; !done(); await Bun.sleep(20)) {
        if (Date.now() > deadline) throw new Error(`Cannot record bytecode.order: the executable never ${what}`);
      }
    };
    await until("inspected the running container", () => engine.requests.inspect! >= 1);
    const second = engine.start({ name: "second", ports: { 80: 8081 } });
    await until("inspected a started container", () => engine.requests.inspect! >= 2);
    engine.stop(second.id);
    await until("inspected a stopped container", () => engine.requests.inspect! >= 3);
    await Bun.sleep(200); // the registry writes that follow the last inspect belong in the profile
    proc.kill("SIGTERM");
    await proc.exited;
    await engine.close();
    if (!existsSync(out)) throw new Error(`Cannot record bytecode.order: the executable wrote no profile (exit ${proc.exitCode}): ${await new Response(proc.stderr).text()}`);
    const profile = readFileSync(out, "utf8");
    writeFileSync(BYTECODE_ORDER, withNote(profile));
    console.log(`${rel(BYTECODE_ORDER).padEnd(40)} ${profileEntries(profile).size} functions`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
