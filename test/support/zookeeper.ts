// A real ZooKeeper 3.8 (Debian's zookeeperd jars) for integration tests: a standalone server in
// the foreground as our child process, with its own config, data dir and free loopback port.
// Stopped by its own PID. `fourLetter()` reads the server's view without our ZooKeeper client.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type Proc, freePort, removeDir, spawn, tempDir, waitFor } from "./proc.ts";

const JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"];
export const zookeeperAvailable = existsSync("/usr/bin/java") && JARS.every((j) => existsSync(j));

/** True (with a loud note) when ZooKeeper is missing on a developer machine; in CI nothing skips. */
export function zookeeperMissing(): boolean {
  if (zookeeperAvailable || process.env.CI === "true" || process.env.CI === "1") return false;
  console.error(`\n*** SKIPPING ZooKeeper tests: needs java and ${JARS.join(", ")} (Debian: zookeeperd)\n`);
  return true;
}

export interface StartZookeeperOptions {
  /** ZooKeeper's tick; sessions may last 2–20 ticks. Default 500 ms (sessions 1–10 s). */
  tickTime?: number;
}

export class Zookeeper {
  proc?: Proc;
  readonly connectString: string;

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.connectString = `127.0.0.1:${port}`;
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  launch(): void {
    this.proc = spawn(
      ["java", "-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-cp", JARS.join(":"),
        "org.apache.zookeeper.server.ZooKeeperServerMain", join(this.dir, "zoo.cfg")],
      { logFile: join(this.dir, "zookeeper.log") },
    );
  }

  /** Waits until the server answers `ruok` with `imok` and serves sessions. */
  async ready(timeout = 30_000): Promise<void> {
    await waitFor(
      async () => {
        if (!this.proc?.running) throw new Error(`ZooKeeper exited; log:\n${this.logTail()}`);
        return (await this.fourLetter("ruok")) === "imok" && (await this.fourLetter("stat")).includes("Mode: standalone");
      },
      { timeout, interval: 100, message: `ZooKeeper at ${this.connectString} did not start` },
    );
  }

  logTail(n = 30): string {
    try {
      return readFileSync(join(this.dir, "zookeeper.log"), "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop("SIGTERM", 10_000);
  }

  /** Stops and starts again on the same port; `wipe` first empties the data dir (all sessions and nodes lost). */
  async restart(opts: { wipe?: boolean } = {}): Promise<void> {
    await this.stop();
    if (opts.wipe) await removeDir(this.dataDir);
    this.launch();
    await this.ready();
  }

  /** Sends a four-letter command (ruok, stat, dump, cons) and returns the whole answer. */
  fourLetter(cmd: string, timeoutMs = 2000): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect({ host: "127.0.0.1", port: this.port });
      const timer = setTimeout(() => s.destroy(new Error(`${cmd}: timeout`)), timeoutMs);
      s.on("connect", () => s.end(cmd));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.on("close", () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
  }

  /** Ephemeral node paths by session (hex), from the server's `dump` command. */
  async ephemerals(): Promise<Map<string, string[]>> {
    const text = await this.fourLetter("dump");
    const out = new Map<string, string[]>();
    const section = text.split(/Sessions with Ephemerals \(\d+\):\n/)[1] ?? "";
    let current: string[] | undefined;
    for (const line of section.split("\n")) {
      const session = /^(0x[0-9a-f]+):$/.exec(line.trim());
      if (session) {
        current = [];
        out.set(session[1] as string, current);
      } else if (line.startsWith("\t") && current) current.push(line.trim());
      else if (line.trim() && !line.startsWith("\t")) current = undefined;
    }
    return out;
  }

  /** Every ephemeral node path, whatever its session. */
  async ephemeralPaths(): Promise<string[]> {
    return [...(await this.ephemerals()).values()].flat().sort();
  }
}

/** A standalone ZooKeeper on a free loopback port in a temp dir; resolves once it serves. */
export async function startZookeeper(opts: StartZookeeperOptions = {}): Promise<Zookeeper> {
  const dir = tempDir("zk-");
  const port = await freePort();
  const tick = opts.tickTime ?? 500;
  writeFileSync(
    join(dir, "zoo.cfg"),
    [
      `tickTime=${tick}`,
      `dataDir=${join(dir, "data")}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "4lw.commands.whitelist=ruok,stat,dump,cons,srvr",
      "maxClientCnxns=0",
      "",
    ].join("\n"),
  );
  const zk = new Zookeeper(dir, port);
  zk.launch();
  try {
    await zk.ready();
  } catch (err) {
    await zk.stop();
    throw err;
  }
  return zk;
}
