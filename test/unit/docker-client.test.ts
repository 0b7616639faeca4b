// The Docker client against a small engine stand-in on a unix socket: version negotiation (an
// engine whose minimum is 1.44 rejects older paths, as Docker 29 does), inspect, list, events.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DockerClient, endpointFor, MAX_API } from "../../src/docker/client.ts";
import { bunRuntime } from "../../src/runtime/bun.ts";
import type { Runtime, TlsOptions } from "../../src/runtime/types.ts";
import { tempDir, waitFor } from "../support/proc.ts";

interface Engine {
  apiVersion: string;
  minVersion: string;
  paths: string[];
  /** /_ping answers this status while set (an engine starting up). */
  pingStatus?: number;
}

const servers: Array<{ stop(): void }> = [];
afterAll(() => servers.forEach((s) => s.stop()));

const num = (v: string) => Number(v.split(".")[1]);

/** The stand-in engine's images: ID → RepoTags ("fail": it answers 500). */
const IMAGES: Record<string, string[] | null | "fail"> = {
  "sha256:tagged": ["registry:5000/team/shop:1.2", "shop:latest"],
  "sha256:untagged": [],
  "sha256:old": ["<none>:<none>"],
  "sha256:nulltags": null,
  "sha256:broken": "fail",
};

function engine(e: Engine, events: object[] = []): string {
  const socket = join(tempDir("docker-stub-"), "docker.sock");
  const server = Bun.serve({
    unix: socket,
    fetch(req) {
      const url = new URL(req.url);
      e.paths.push(url.pathname + url.search);
      if (url.pathname === "/_ping") return new Response("OK", { status: e.pingStatus ?? 200, headers: { "Api-Version": e.apiVersion } });
      const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
      if (!m) return Response.json({ message: "page not found" }, { status: 404 });
      if (num(m[1]!) < num(e.minVersion)) {
        return new Response(`client version ${m[1]} is too old. Minimum supported API version is ${e.minVersion}, please upgrade your client to a newer version`, { status: 400 });
      }
      const path = m[2]!;
      if (path === "/containers/json") return Response.json([{ Id: "a".repeat(64), Names: ["/web"], State: "running" }]);
      if (path === `/containers/${"a".repeat(64)}/json`) {
        return Response.json({ Id: "a".repeat(64), Name: "/web", Config: { Image: "web", Env: null, Labels: {}, Extra: 1 }, State: { Running: true }, HostConfig: { NetworkMode: "bridge" }, NetworkSettings: { Ports: {} } });
      }
      if (path.startsWith("/containers/")) return Response.json({ message: "No such container: x" }, { status: 404 });
      const image = /^\/images\/(.+)\/json$/.exec(path)?.[1];
      if (image !== undefined) {
        const tags = IMAGES[decodeURIComponent(image)];
        if (tags === "fail") return Response.json({ message: "engine trouble" }, { status: 500 });
        return tags === undefined ? Response.json({ message: "No such image" }, { status: 404 }) : Response.json({ Id: image, RepoTags: tags, Config: {} });
      }
      if (path === "/events") return new Response(events.map((ev) => JSON.stringify(ev) + "\n").join(""));
      return Response.json({ message: "page not found" }, { status: 404 });
    },
  });
  servers.push(server);
  return socket;
}

async function client(socket: string): Promise<DockerClient> {
  return new DockerClient(await endpointFor(`unix://${socket}`, bunRuntime()));
}

test("speaks the engine's version when it is older than ours (Docker 20.10: 1.41)", async () => {
  const e: Engine = { apiVersion: "1.41", minVersion: "1.12", paths: [] };
  const c = await client(engine(e));
  expect(await c.ping()).toBe("1.41");
  expect((await c.list()).map((x) => x.Id)).toEqual(["a".repeat(64)]);
  expect(e.paths.at(-1)).toBe("/v1.41/containers/json");
});

test("works with an engine whose minimum is 1.44 (Docker 29), capped at the newest shapes we know", async () => {
  const e: Engine = { apiVersion: "1.53", minVersion: "1.44", paths: [] };
  const c = await client(engine(e));
  expect(await c.ping()).toBe(MAX_API);
  const inspect = await c.inspect("a".repeat(64));
  expect(inspect?.Name).toBe("/web");
  // Docker's whole object is kept for -tags templates, not only the fields we validate.
  expect((inspect?.Config as Record<string, unknown>).Extra).toBe(1);
  expect(e.paths.at(-1)).toBe(`/v${MAX_API}/containers/${"a".repeat(64)}/json`);
});

test("startPing: the list is asked for as soon as the ping is answered, and the first list() takes it", async () => {
  const e: Engine = { apiVersion: "1.41", minVersion: "1.12", paths: [] };
  const c = await client(engine(e));
  c.startPing();
  await waitFor(() => e.paths.includes("/v1.41/containers/json"), { timeout: 5000, interval: 1 });
  expect(await c.ping()).toBe("1.41");
  expect((await c.list()).map((x) => x.Id)).toEqual(["a".repeat(64)]);
  expect(e.paths).toEqual(["/_ping", "/v1.41/containers/json"]);
  // Later lists ask again.
  await c.list();
  expect(e.paths).toEqual(["/_ping", "/v1.41/containers/json", "/v1.41/containers/json"]);
});

test("startPing against an engine not ready yet: the failure is the ping's, and the reconnect's list is fresh", async () => {
  const e: Engine = { apiVersion: "1.41", minVersion: "1.12", paths: [], pingStatus: 503 };
  const c = await client(engine(e));
  c.startPing();
  await expect(c.ping()).rejects.toThrow(/Docker answered 503 to \/_ping/);
  e.pingStatus = undefined;
  expect(await c.ping()).toBe("1.41");
  expect((await c.list()).map((x) => x.Id)).toEqual(["a".repeat(64)]);
  expect(e.paths).toEqual(["/_ping", "/_ping", "/v1.41/containers/json"]);
});

test("inspect of a removed container is null, not an error", async () => {
  const c = await client(engine({ apiVersion: "1.41", minVersion: "1.12", paths: [] }));
  await c.ping();
  expect(await c.inspect("gone")).toBeNull();
});

test("events: server-side filters, since with nanoseconds, one event per line", async () => {
  const e = { apiVersion: "1.41", minVersion: "1.12", paths: [] as string[] };
  const evs = [
    { Type: "container", Action: "start", Actor: { ID: "a", Attributes: {} }, time: 1, timeNano: 1000000001 },
    { Type: "container", Action: "die", Actor: { ID: "a", Attributes: { exitCode: "0", image: "busybox", "com.example.team": "shop" } }, time: 2, timeNano: 2000000002 },
  ];
  const c = await client(engine(e, evs));
  await c.ping();
  const got = [];
  const attributes = [];
  for await (const ev of await c.openEvents({ sinceNano: 1795770127512009999n })) {
    got.push(ev.Action);
    attributes.push(ev.Actor?.Attributes);
  }
  expect(got).toEqual(["start", "die"]);
  // Only the attributes the bridge reads are kept (the rest are labels, copied for nothing).
  expect(attributes).toEqual([{}, { exitCode: "0" }]);
  const q = new URL("http://x" + e.paths.at(-1)).searchParams;
  expect(q.get("since")).toBe("1795770127.512009999");
  expect(JSON.parse(q.get("filters")!)).toMatchObject({ type: ["container"] });
  expect(JSON.parse(q.get("filters")!).event).toContain("died");
  // The events that take a container out of traffic (health_status matches "health_status: healthy").
  expect(JSON.parse(q.get("filters")!).event).toEqual(expect.arrayContaining(["die", "destroy", "kill", "pause", "unpause", "health_status"]));
});

test("a bad DOCKER_HOST is named in the error", async () => {
  await expect(endpointFor("ftp://x", bunRuntime())).rejects.toThrow(/Invalid DOCKER_HOST "ftp:\/\/x": scheme "ftp" is not supported; expected unix:\/\/\/path/);
});

describe("DOCKER_HOST endpoints and TLS", () => {
  /** A runtime whose env, files and fetchTls calls the test controls. */
  const fakeRt = (env: Record<string, string>, files: Record<string, string> = {}) => {
    const tls: TlsOptions[] = [];
    const rt = {
      ...bunRuntime(),
      env: (n: string) => env[n],
      exists: async (p: string) => p in files,
      readTextFile: async (p: string) => {
        if (!(p in files)) throw new Error(`ENOENT: ${p}`);
        return files[p]!;
      },
      fetchTls: (o: TlsOptions) => (tls.push(o), globalThis.fetch),
      fetchUnix: () => globalThis.fetch,
    } as Runtime;
    return { rt, tls };
  };

  test("https:// without DOCKER_TLS_VERIFY is verified (system CAs), never insecure", async () => {
    const { rt, tls } = fakeRt({ HOME: "/nohome" });
    const e = await endpointFor("https://docker.example:2376", rt);
    expect(e.baseUrl).toBe("https://docker.example:2376");
    expect(tls).toEqual([{}]);
    expect(tls[0]!.insecure).toBeUndefined();
  });

  test("https:// takes ca.pem and the client pair from DOCKER_CERT_PATH when present", async () => {
    const files = { "/certs/ca.pem": "CA", "/certs/cert.pem": "CERT", "/certs/key.pem": "KEY" };
    const { rt, tls } = fakeRt({ DOCKER_CERT_PATH: "/certs" }, files);
    await endpointFor("https://h", rt);
    expect(tls).toEqual([{ ca: "CA", cert: "CERT", key: "KEY" }]);
  });

  test("tcp:// is plain HTTP on 2375; with DOCKER_TLS_VERIFY it is verified TLS on 2376 with ~/.docker certificates", async () => {
    const plain = fakeRt({});
    expect((await endpointFor("tcp://10.0.0.1", plain.rt)).baseUrl).toBe("http://10.0.0.1:2375");
    expect(plain.tls).toEqual([]);
    const files = { "/home/u/.docker/ca.pem": "CA", "/home/u/.docker/cert.pem": "C", "/home/u/.docker/key.pem": "K" };
    const secure = fakeRt({ DOCKER_TLS_VERIFY: "1", HOME: "/home/u" }, files);
    expect((await endpointFor("tcp://10.0.0.1", secure.rt)).baseUrl).toBe("https://10.0.0.1:2376");
    expect(secure.tls).toEqual([{ ca: "CA", cert: "C", key: "K" }]);
    expect((await endpointFor("tcp://[fd00::1]:12375/", fakeRt({}).rt)).baseUrl).toBe("http://[fd00::1]:12375");
  });

  test.each([
    ["tcp://", /expected host\[:port\]/],
    ["tcp://h:99999", /port "99999"/],
    ["tcp://h:1/api", /nothing after it/],
    ["tcp://user:s3cret@h:2375", /credentials/],
    ["https://h/..%2f", /nothing after it/],
    ["unix://relative.sock", /absolute path/],
    ["ssh://me@h", /scheme "ssh"/],
    ["h:2375", /no scheme/],
  ])("%s is refused with a reason", async (host, re) => {
    const e = await endpointFor(host, fakeRt({}).rt).then(() => undefined, (err: Error) => err);
    expect(e?.message).toMatch(re);
    expect(e?.message).toContain("Invalid DOCKER_HOST");
    expect(e?.message).not.toContain("s3cret");
  });

  test("a client certificate without its key is refused", async () => {
    const { rt } = fakeRt({ DOCKER_CERT_PATH: "/c" }, { "/c/cert.pem": "C" });
    await expect(endpointFor("https://h", rt)).rejects.toThrow(/cert.pem and key.pem must be there together/);
  });
});

test("image tags: the first repository tag, null when none; one inspect per image ID; failures not remembered", async () => {
  const e: Engine = { apiVersion: "1.41", minVersion: "1.12", paths: [] };
  const c = await client(engine(e));
  await c.ping();
  const tags = await Promise.all(["sha256:tagged", "sha256:tagged", "sha256:untagged", "sha256:old", "sha256:nulltags", "sha256:gone"].map((id) => c.imageTag(id)));
  expect(tags).toEqual(["registry:5000/team/shop:1.2", "registry:5000/team/shop:1.2", null, null, null, null]);
  expect(await c.imageTag("sha256:tagged")).toBe("registry:5000/team/shop:1.2");
  const inspects = () => e.paths.filter((p) => p.startsWith("/v1.41/images/"));
  expect(inspects().filter((p) => p.includes("tagged/")).length).toBe(2); // "tagged" once, "untagged" once
  expect(inspects().filter((p) => p === "/v1.41/images/sha256%3Atagged/json")).toHaveLength(1);
  await expect(c.imageTag("sha256:broken")).rejects.toThrow(/Docker answered 500 to \/images\/sha256%3Abroken\/json: engine trouble/);
  await expect(c.imageTag("sha256:broken")).rejects.toThrow(/engine trouble/);
  expect(inspects().filter((p) => p.includes("broken"))).toHaveLength(2);
});
