// The Docker image (Dockerfile + build.ts's context) built with the test dockerd and run the way
// registrator's README runs it: --net=host, the engine's socket mounted at /tmp/docker.sock.
// FROM scratch: nothing is pulled. Everything started here is removed here.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { assembleImage, freshBinary } from "../../build.ts";
import { dockerSkip, sharedDockerd, type Dockerd } from "../support/docker.ts";
import { etcdAvailable, makeTestCerts, startEtcd, type KeyValue } from "../support/etcd.ts";
import { freePort, tempDir, waitFor } from "../support/proc.ts";

const isLinuxX64 = process.platform === "linux" && process.arch === "x64";
const skip = isLinuxX64 ? await dockerSkip() : "the image holds the linux-x64 executable";

const TAG = `regtest/registrator:image-test-${process.pid}`;
const started: string[] = []; // containers, removed in afterAll even when a test fails
let built = false;

async function buildImage(d: Dockerd): Promise<void> {
  if (built) return;
  const scratch = tempDir("regtest-image-ctx-");
  const context = assembleImage(await freshBinary(scratch), join(scratch, "context"));
  // The classic builder: Debian's docker.io has no buildx; FROM scratch needs no pull either way.
  await d.docker(["build", "-q", "-t", TAG, context]);
  built = true;
}

async function run(d: Dockerd, args: string[]): Promise<string> {
  const id = await d.docker(["run", "-d", ...args]);
  started.push(id);
  return id;
}

interface CatalogEntry { ServiceName: string; ServiceAddress: string; ServicePort: number }

afterAll(async () => {
  if (skip) return;
  const d = await sharedDockerd();
  if (started.length) await d.docker(["rm", "-f", "-v", ...started]).catch(() => {});
  if (built) await d.docker(["rmi", "-f", TAG]).catch(() => {});
});

describe.skipIf(!!skip)("docker image", () => {
  test("FROM scratch image builds without a pull and holds only the executable and what it loads", async () => {
    const d = await sharedDockerd();
    await buildImage(d);
    const info = JSON.parse(await d.docker(["image", "inspect", TAG]))[0];
    expect(info.Config.Entrypoint).toEqual(["/bin/registrator"]);
    expect(info.Os).toBe("linux");
    expect(info.Architecture).toBe("amd64");
    // About the size of the executable: the loader, four libraries and a CA bundle add ~3.5 MB.
    const binarySize = Bun.file(await freshBinary(tempDir())).size;
    expect(info.Size).toBeGreaterThan(binarySize);
    expect(info.Size).toBeLessThan(binarySize + 8 * 1024 * 1024);
  });

  test("docker run <image> -version prints the version (the dynamic loader and libc are in place)", async () => {
    const d = await sharedDockerd();
    await buildImage(d);
    const out = await d.docker(["run", "--rm", TAG, "-version"]);
    expect(out).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("--net=host with the socket at /tmp/docker.sock registers a published port in the embedded registry", async () => {
    const d = await sharedDockerd();
    if (!d.socket) return void console.error("SKIP: the image test mounts a unix socket; the external daemon is tcp://");
    await buildImage(d);
    const [http, port] = [await freePort(), await freePort()];
    const name = `image-${process.pid}-${port}`;
    const reg = await run(d, ["--net=host", "-v", `${d.socket}:/tmp/docker.sock`, TAG, "-ip", "127.0.0.1", "-http", `127.0.0.1:${http}`, "local://"]);
    const logs = () => d.docker(["logs", "--tail", "30", reg]).catch((e: Error) => e.message);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http}/ready`)).ok, { timeout: 30_000, message: `registrator (in a container) /ready on ${http}` });
      const web = await run(d, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${name}`, d.image, "httpd", "-f", "-p", "80", "-h", "/www"]);
      const entries = await waitFor(async () => {
        const list = (await (await fetch(`http://127.0.0.1:${http}/v1/catalog/service/${name}`)).json()) as CatalogEntry[];
        return list.length > 0 && list;
      }, { timeout: 15_000, message: `"${name}" in the catalog` });
      expect(entries).toEqual([expect.objectContaining({ ServiceName: name, ServiceAddress: "127.0.0.1", ServicePort: port })]);

      await d.docker(["rm", "-f", web]);
      await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${http}/v1/catalog/service/${name}`)).json()) as unknown[]).length === 0, {
        timeout: 15_000,
        message: `"${name}" removed after docker rm`,
      });
      const state = JSON.parse(await d.docker(["inspect", "--format", "{{json .State}}", reg]));
      expect(state.Running).toBe(true);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nregistrator container logs:\n${await logs()}`, { cause: err });
    }
  });

  // Without --net=host (and without -h) the container's host name is its own ID, which changes on
  // every re-create: service IDs and the embedded registry's node take the engine's host name
  // instead; -hostname wins over both. The HTTP API is reached at the container's bridge address.
  test("on a bridge network: service IDs carry the engine's host name, not the container ID; -hostname x wins", async () => {
    const d = await sharedDockerd();
    if (!d.socket) return void console.error("SKIP: the image test mounts a unix socket; the external daemon is tcp://");
    await buildImage(d);
    const engine = await d.docker(["info", "--format", "{{.Name}}"]);
    const port = await freePort();
    const name = `hostname-${process.pid}-${port}`;
    // -t: its log (stderr) comes back from `docker logs` on stdout.
    const start = (extra: string[]) => run(d, ["-t", "-v", `${d.socket}:/tmp/docker.sock`, TAG, "-ip", "127.0.0.1", "-http", "0.0.0.0:8485", ...extra, "local://"]);
    const [byDefault, byFlag] = [await start([]), await start(["-hostname", "x"])];
    const api = async (id: string) => `http://${await d.docker(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id])}:8485`;
    const [defaultApi, flagApi] = [await api(byDefault), await api(byFlag)];
    const logs = (id: string) => d.docker(["logs", "--tail", "30", id]).catch((e: Error) => e.message);
    try {
      const web = await run(d, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${name}`, d.image, "httpd", "-f", "-p", "80", "-h", "/www"]);
      const webName = (await d.docker(["inspect", "--format", "{{.Name}}", web])).replace(/^\//, "");
      const services = (base: string) =>
        waitFor(async () => {
          const list = ((await (await fetch(`${base}/v1/services`)).json()) as Array<{ id: string; name: string; registered: boolean }>).filter((s) => s.name === name && s.registered);
          return list.length > 0 && list;
        }, { timeout: 30_000, message: `"${name}" registered by the registrator at ${base}` });
      expect((await services(defaultApi)).map((s) => s.id)).toEqual([`${engine}:${webName}:80`]);
      expect((await services(flagApi)).map((s) => s.id)).toEqual([`x:${webName}:80`]);
      const nodes = async (base: string) => ((await (await fetch(`${base}/v1/catalog/service/${name}`)).json()) as Array<{ Node: string }>).map((e) => e.Node);
      expect(await nodes(defaultApi)).toEqual([engine]);
      expect(await nodes(flagApi)).toEqual(["x"]);
      // Why, said once at startup: its own host name is the container ID.
      const own = (await d.docker(["inspect", "--format", "{{.Config.Hostname}}", byDefault])).trim();
      expect(own).toBe(byDefault.slice(0, 12));
      expect(await logs(byDefault)).toContain(`Using the Docker engine's host name "${engine}" (GET /info) in service IDs: this container's own host name "${own}" is its container ID`);
      expect(await logs(byFlag)).not.toContain("engine's host name");
    } catch (err) {
      throw new Error(`${(err as Error).message}\nregistrator container logs:\n${await logs(byDefault)}\n---\n${await logs(byFlag)}`, { cause: err });
    }
  });

  // The image's /etc/ssl/certs/ca-certificates.crt is what SSL_CERT_FILE names: mounting a private
  // CA there is how an operator trusts a TLS registry. Also proves "localhost" resolves in scratch
  // (nsswitch.conf + the /etc/hosts Docker provides) and that the TLS stack loads.
  test.skipIf(!etcdAvailable)("TLS etcd by name: trusts the CA bundle mounted at the image's bundle path", async () => {
    const d = await sharedDockerd();
    if (!d.socket) return;
    await buildImage(d);
    const certs = await makeTestCerts();
    const etcd = await startEtcd({ name: "image-tls", tls: { certFile: certs.serverCert, keyFile: certs.serverKey } });
    etcd.clientTls = { caFile: certs.caFile };
    const port = await freePort();
    const name = `image-tls-${process.pid}-${port}`;
    const reg = await run(d, [
      "--net=host", "-v", `${d.socket}:/tmp/docker.sock`, "-v", `${certs.caFile}:/etc/ssl/certs/ca-certificates.crt:ro`,
      TAG, "-ip", "127.0.0.1", "-http", `127.0.0.1:${await freePort()}`, `etcd+https://localhost:${etcd.ports.client}/regtest-image`,
    ]);
    try {
      await run(d, ["-p", `${port}:80`, "-e", `SERVICE_NAME=${name}`, d.image, "httpd", "-f", "-p", "80", "-h", "/www"]);
      const kvs = await waitFor(async () => {
        const list = await etcd.range(`/regtest-image/${name}/`);
        return list.length > 0 && list;
      }, { timeout: 20_000, message: `"${name}" in TLS etcd` }) as KeyValue[];
      expect(kvs.map((kv) => kv.value)).toEqual([`127.0.0.1:${port}`]);
    } catch (err) {
      const logs = await d.docker(["logs", "--tail", "30", reg]).catch((e: Error) => e.message);
      throw new Error(`${(err as Error).message}\nregistrator container logs:\n${logs}`, { cause: err });
    } finally {
      await d.docker(["rm", "-f", reg]).catch(() => {});
      await etcd.stop();
    }
  });
});
