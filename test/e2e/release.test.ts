// The release artifact itself: the compiled linux-x64 executable (bun build --compile, as build.ts
// makes it) runs on its own, without node_modules or the source tree, and does the core job against
// the real engine: a started container appears in the embedded registry, a stopped one disappears.
import { describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freshBinary } from "../../build.ts";
import { dockerSkip, sharedDockerd, type Dockerd } from "../support/docker.ts";
import { freePort, run, tempDir, waitFor } from "../support/proc.ts";
import { startRegistrator } from "../support/registrator.ts";

const isLinuxX64 = process.platform === "linux" && process.arch === "x64";
const skip = isLinuxX64 ? await dockerSkip() : "the release executable is linux-x64";
const binary = () => freshBinary(tempDir("regtest-release-"));

interface CatalogEntry { ServiceID: string; ServiceName: string; ServiceAddress: string; ServicePort: number }

async function catalog(http: number, name: string): Promise<CatalogEntry[]> {
  const res = await fetch(`http://127.0.0.1:${http}/v1/catalog/service/${name}`);
  if (!res.ok) throw new Error(`GET /v1/catalog/service/${name}: ${res.status}`);
  return (await res.json()) as CatalogEntry[];
}

describe.skipIf(!isLinuxX64)("compiled executable", () => {
  test("runs from an empty directory: -version prints the baked-in version, --help the usage", async () => {
    const dir = tempDir("regtest-bare-");
    const copy = join(dir, "registrator");
    copyFileSync(await binary(), copy);
    await run(["chmod", "755", copy]);
    // No node_modules, no src/, no package.json, no PATH: the executable carries everything.
    const env = { HOME: dir };
    const version = (await run([copy, "-version"], { cwd: dir, env })).trim();
    const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string };
    expect(version).toMatch(new RegExp(`^${(process.env.REGISTRATOR_VERSION || pkg.version).replace(/\./g, "\\.")}`));
    expect(version).not.toMatch(/-dev$/); // src/version.ts's fallback: the define did not apply
    const help = await run([copy, "--help"], { cwd: dir, env });
    expect(help).toMatch(/USAGE/);
    expect(help).toMatch(/-?internal/);
  });

  test("a bad flag exits 2 with one line naming it", async () => {
    const child = Bun.spawn([await binary(), "-no-such-flag"], { stdout: "pipe", stderr: "pipe", env: { HOME: "/" } });
    const [code, err] = [await child.exited, await new Response(child.stderr).text()];
    expect(code).toBe(2);
    expect(err).toMatch(/no-such-flag/);
  });
});

describe.skipIf(!!skip)("compiled executable against the engine", () => {
  test("start → registered with the published port; stop → removed", async () => {
    const d: Dockerd = await sharedDockerd();
    const [http, port] = [await freePort(), await freePort()];
    const name = `release-${process.pid}-${port}`;
    const reg = await startRegistrator(["-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, "local://"], {
      dockerHost: d.host,
      runtime: { binary: await binary() },
      env: { HOME: tempDir("regtest-home-") },
    });
    let id = "";
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 20_000, message: `registrator /ready on ${http}` });
      id = await d.docker(["run", "-d", "-p", `${port}:80`, "-e", `SERVICE_NAME=${name}`, d.image, "httpd", "-f", "-p", "80", "-h", "/www"]);
      const entries = await waitFor(async () => (await catalog(http, name)).length > 0 && catalog(http, name), {
        timeout: 15_000,
        message: `"${name}" in /v1/catalog/service`,
      }) as CatalogEntry[];
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ ServiceName: name, ServiceAddress: "127.0.0.1", ServicePort: port });
      // The entry can be visible before the daemon has printed its line: wait for it, do not read it.
      await reg.waitForLine(new RegExp(`added:.*${id.slice(0, 12)}`), 15_000);

      await d.docker(["stop", "-t", "1", id]);
      await waitFor(async () => (await catalog(http, name)).length === 0, { timeout: 15_000, message: `"${name}" gone after stop` });
      expect(reg.running).toBe(true);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nregistrator said:\n${reg.tail(30)}`, { cause: err });
    } finally {
      if (id) await d.docker(["rm", "-f", id]).catch(() => {});
      await reg.stop();
    }
  });
});
