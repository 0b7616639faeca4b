// Issue 15 end to end (real dockerd, etcd v3): what a container says in its own metadata about its
// address, ports and name — SERVICE_IP, SERVICE_INTERNAL, SERVICE_EXPOSE (the host-network
// exporter), -default-name, images named by ID (#701) — and the rule each service shows for them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { buildRootTar } from "../support/image.ts";
import { freePort, run as runCmd } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { HOST, e2eFile, httpUrl, keyIs, keysUnder, uniqueName } from "./helpers.ts";

const file = e2eFile();
const prefix = `/overrides${process.pid}`;
const etcdUri = () => `etcd://${file.e.etcd.endpoint}${prefix}`;
const key = (service: string, name: string, port: number) => `${prefix}/${service}/${HOST}:${name}:${port}`;
const images: string[] = [];
const containers: string[] = [];

afterAll(async () => {
  // Containers before the images they use, whatever order the hooks run in.
  if (containers.length) await file.e.dockerd.docker(["rm", "-f", ...containers]).catch(() => "");
  if (images.length) await file.e.dockerd.docker(["rmi", "-f", ...images]).catch(() => "");
});

/** docker run -d --name <unique> [args] <image> sleep 3600, for an image other than the test image. */
async function runImage(image: string, args: string[] = [], prefixName = "img"): Promise<string> {
  const name = uniqueName(prefixName);
  file.track(name);
  containers.push(name);
  await file.e.dockerd.docker(["run", "-d", "--name", name, ...args, image, "sleep", "3600"]);
  return name;
}

/** The test image's files imported again (no EXPOSE): tagged `tag`, or untagged. Returns the image ID. */
async function importImage(tag?: string): Promise<string> {
  const out = await file.e.dockerd.docker(["import", "--change", 'CMD ["/bin/sh"]', "-", ...(tag ? [tag] : [])], { stdin: await buildRootTar() });
  const id = out.trim();
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
  images.push(id);
  return id;
}

async function containerIp(name: string): Promise<string> {
  const c = (await file.e.dockerd.json(`/containers/${name}/json`)) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
  const ip = c.NetworkSettings.Networks.bridge?.IPAddress;
  if (!ip) throw new Error(`container ${name} has no address on the default bridge`);
  return ip;
}

type ServiceJson = { id: string; name: string; ip: string; port: number; why?: { address: string; port: string; name: string } };
async function servicesOf(api: string, container: string): Promise<ServiceJson[]> {
  const all = (await (await fetch(`${api}/v1/services`)).json()) as Array<ServiceJson & { containerName: string }>;
  return all.filter((s) => s.containerName === container).sort((a, b) => a.id.localeCompare(b.id));
}

let image = "";
beforeAll(() => {
  image = file.e.dockerd.image;
});

test("SERVICE_IP wins over -ip, per port over per container; a value that is not an IP: one warning, -ip applies", async () => {
  const reg = await file.registrator(["-ip", "127.0.0.1", etcdUri()]);
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const mark = reg.mark();
  const both = await file.container(["-p", `${p1}:80`, "-p", `${p2}:81`, "-e", "SERVICE_IP=10.20.30.40", "-l", "SERVICE_81_IP=fd00::81"], undefined, "ip");
  await keyIs(file.e, key("busybox-80", both, 80), `10.20.30.40:${p1}`, 15_000);
  await keyIs(file.e, key("busybox-81", both, 81), `[fd00::81]:${p2}`, 15_000);

  const bad = await file.container(["-p", `${p3}:80`, "-e", "SERVICE_IP=eth0"], undefined, "badip");
  await keyIs(file.e, key("busybox", bad, 80), `127.0.0.1:${p3}`, 15_000);
  await reg.waitForLine(new RegExp(`Ignored SERVICE_IP="eth0" of container "${bad}": not an IP address`), 5000, mark);

  // Which rule chose: in /v1/services and in `registrator services`.
  const api = await httpUrl(reg);
  expect((await servicesOf(api, both)).map((s) => [s.ip, s.why?.address])).toEqual([
    ["10.20.30.40", "SERVICE_IP"],
    ["fd00::81", "SERVICE_81_IP"],
  ]);
  expect((await servicesOf(api, bad)).map((s) => s.why)).toEqual([{ address: "-ip → 127.0.0.1", port: "binding HostPort", name: `image ${image}` }]);
  const env = { ...process.env, DOCKER_HOST: file.e.dockerd.host };
  const rows = JSON.parse(await runCmd(registratorCommand(["services", "-ip", "127.0.0.1", "--json"]), { env })) as Array<{ container: string; service?: ServiceJson }>;
  expect(rows.find((r) => r.container === both && r.service?.port === p1)?.service?.why?.address).toBe("SERVICE_IP");
  const table = await runCmd(registratorCommand(["services", "-ip", "127.0.0.1"]), { env });
  expect(table.split("\n")[0]).toContain("CHOSEN BY (ADDRESS; PORT; NAME)");
  expect(table.split("\n").find((l) => l.startsWith(`${bad} `))).toContain(`-ip → 127.0.0.1; binding HostPort; image ${image}`);
});

test("SERVICE_INTERNAL per container and per port, both ways, without -internal", async () => {
  await file.registrator(["-ip", "127.0.0.1", etcdUri()]);
  const [p1, p2] = [await freePort(), await freePort()];
  // Port 80 published, 8080 only exposed: SERVICE_8080_INTERNAL registers 8080 on the container IP.
  const perPort = await file.container(["-p", `${p1}:80`, "--expose", "8080", "-e", "SERVICE_8080_INTERNAL=true"], undefined, "int");
  await keyIs(file.e, key("busybox-80", perPort, 80), `127.0.0.1:${p1}`, 15_000);
  await keyIs(file.e, key("busybox-8080", perPort, 8080), `${await containerIp(perPort)}:8080`, 15_000);
  // The whole container internal, except port 80 (per port beats per container).
  const perContainer = await file.container(["-p", `${p2}:80`, "--expose", "8080", "-e", "SERVICE_INTERNAL=yes", "-l", "SERVICE_80_INTERNAL=false"], undefined, "int");
  await keyIs(file.e, key("busybox-80", perContainer, 80), `127.0.0.1:${p2}`, 15_000);
  await keyIs(file.e, key("busybox-8080", perContainer, 8080), `${await containerIp(perContainer)}:8080`, 15_000);
});

test("SERVICE_INTERNAL=false under -internal registers the published binding", async () => {
  await file.registrator(["-internal", "-ip", "127.0.0.1", etcdUri()]);
  const port = await freePort();
  const name = await file.container(["-p", `${port}:80`, "-e", "SERVICE_INTERNAL=false"], undefined, "ext");
  await keyIs(file.e, key("busybox", name, 80), `127.0.0.1:${port}`, 15_000);
  const internal = await file.container(["-p", `${await freePort()}:80`], undefined, "ext");
  await keyIs(file.e, key("busybox", internal, 80), `${await containerIp(internal)}:80`, 15_000);
});

test("host network, image without EXPOSE, nothing published, SERVICE_EXPOSE=9100: the host address and port 9100; removing it removes it", async () => {
  const reg = await file.registrator([etcdUri()]);
  const [, hostIp] = await reg.waitForLine(/Using (\S+) for ports published on all interfaces/, 5000);
  const exposed = await file.e.dockerd.docker(["image", "inspect", "--format", "{{json .Config.ExposedPorts}}", image]);
  expect(JSON.parse(exposed)).toBeNull();
  const mark = reg.mark();
  const name = await file.container(["--net=host", "-e", "SERVICE_EXPOSE=9100,not-a-port"], undefined, "exporter");
  const k = key("busybox", name, 9100);
  await keyIs(file.e, k, `${hostIp}:9100`, 15_000);
  await reg.waitForLine(new RegExp(`Ignored "not-a-port" in SERVICE_EXPOSE of container "${name}"`), 5000, mark);
  expect(Object.keys(await keysUnder(file.e, `${prefix}/busybox/${HOST}:${name}:`))).toEqual([k]);
  await file.e.dockerd.docker(["rm", "-f", name]);
  await keyIs(file.e, k, undefined, 15_000);
});

test("SERVICE_EXPOSE on a bridge network: like other exposed ports, registered with SERVICE_INTERNAL", async () => {
  await file.registrator(["-ip", "127.0.0.1", etcdUri()]);
  const port = await freePort();
  const name = await file.container(["-p", `${port}:80`, "-e", "SERVICE_EXPOSE=9100", "-e", "SERVICE_9100_INTERNAL=1"], undefined, "bexp");
  await keyIs(file.e, key("busybox-80", name, 80), `127.0.0.1:${port}`, 15_000);
  await keyIs(file.e, key("busybox-9100", name, 9100), `${await containerIp(name)}:9100`, 15_000);
});

test("-default-name compose: the Compose service label, else the image", async () => {
  const reg = await file.registrator(["-default-name", "compose", "-ip", "127.0.0.1", etcdUri()]);
  const [p1, p2] = [await freePort(), await freePort()];
  const composed = await file.container(["-p", `${p1}:80`, "-l", "com.docker.compose.service=frontend"], undefined, "cmp");
  const plain = await file.container(["-p", `${p2}:80`], undefined, "cmp");
  await keyIs(file.e, key("frontend", composed, 80), `127.0.0.1:${p1}`, 15_000);
  await keyIs(file.e, key("busybox", plain, 80), `127.0.0.1:${p2}`, 15_000);
  expect((await servicesOf(await httpUrl(reg), composed)).map((s) => s.why?.name)).toEqual(["-default-name compose"]);
});

test("-default-name container: the container's name", async () => {
  await file.registrator(["-default-name", "container", "-ip", "127.0.0.1", etcdUri()]);
  const port = await freePort();
  const name = await file.container(["-p", `${port}:80`, "-l", "com.docker.compose.service=frontend"], undefined, "cname");
  await keyIs(file.e, key(name, name, 80), `127.0.0.1:${port}`, 15_000);
});

test("an image run by its ID or sha256: ID registers under its tag's name; an untagged one under the container name", async () => {
  const repo = uniqueName("idimage");
  const tagged = await importImage(`regtest/${repo}:v1`);
  const untagged = await importImage();
  const reg = await file.registrator(["-ip", "127.0.0.1", etcdUri()]);
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const byShortId = await runImage(tagged.slice("sha256:".length, "sha256:".length + 12), ["-p", `${p1}:80`]);
  const bySha = await runImage(tagged, ["-p", `${p2}:80`]);
  const noTag = await runImage(untagged, ["-p", `${p3}:80`], "notag");
  await keyIs(file.e, key(repo, byShortId, 80), `127.0.0.1:${p1}`, 15_000);
  await keyIs(file.e, key(repo, bySha, 80), `127.0.0.1:${p2}`, 15_000);
  await keyIs(file.e, key(noTag, noTag, 80), `127.0.0.1:${p3}`, 15_000);
  expect(Object.keys(await keysUnder(file.e, `${prefix}/sha256/`))).toEqual([]);
  const api = await httpUrl(reg);
  expect((await servicesOf(api, bySha)).map((s) => s.why?.name)).toEqual([`image tag regtest/${repo}:v1 of ${tagged.slice(0, 19)}`]);
  expect((await servicesOf(api, noTag)).map((s) => s.why?.name)).toEqual([`container name (image ${untagged.slice(0, 19)} has no tag)`]);
});
