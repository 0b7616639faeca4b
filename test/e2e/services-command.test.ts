// `registrator services`: what running containers would register, and why ports are ignored.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sharedDockerd, type Dockerd } from "../support/docker.ts";
import { exposing } from "../support/image.ts";
import { freePort, run as runCmd } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { HOST, uniqueName } from "./helpers.ts";

let d: Dockerd;
const names: string[] = [];

beforeAll(async () => {
  d = await sharedDockerd();
});

afterAll(async () => {
  if (names.length) await d.docker(["rm", "-f", ...names]).catch(() => "");
});

test("lists services and the reason for each ignored port, as a table and as JSON, touching no registry", async () => {
  const image = await exposing(d, "regtest/web", [80, 8080]);
  const name = uniqueName("svc");
  names.push(name);
  const port = await freePort();
  // 80 is published, 8080 only exposed: like registrator, an unpublished port does not make the name "web-80".
  await d.docker(["run", "-d", "--name", name, "-p", `${port}:80`, "-e", "SERVICE_TAGS=a,b", image, "sleep", "3600"]);
  const env = { ...process.env, DOCKER_HOST: d.host };
  const json = JSON.parse(await runCmd(registratorCommand(["services", "-ip", "127.0.0.1", "--json"]), { env })) as Array<Record<string, any>>;
  const mine = json.filter((r) => r.container === name);
  expect(mine.find((r) => r.port === "80/tcp")?.service).toEqual({
    id: `${HOST}:${name}:80`,
    name: "web",
    ip: "127.0.0.1",
    port,
    tags: ["a", "b"],
    // Which rule chose the address, the port and the name.
    why: { address: "-ip → 127.0.0.1", port: "binding HostPort", name: `image ${image}` },
  });
  expect(mine.find((r) => r.port === "8080/tcp")?.ignored).toMatch(/not published/);

  const table = await runCmd(registratorCommand(["services", "-ip", "127.0.0.1"]), { env });
  const rows = table.split("\n").filter((l) => l.startsWith(name + " "));
  expect(rows.some((l) => l.includes(`${HOST}:${name}:80`) && l.includes(`127.0.0.1:${port}`))).toBe(true);
  expect(rows.some((l) => l.includes("8080/tcp") && l.includes("(ignored)"))).toBe(true);
  expect(table.split("\n")[0]).toMatch(/^CONTAINER\s+PORT\s+SERVICE/);
});

test("says why a service is not in traffic: Docker health starting, paused; held back on backends without health", async () => {
  const image = await exposing(d, "regtest/web", [80]);
  const starting = uniqueName("svc-hc");
  const paused = uniqueName("svc-paused");
  names.push(starting, paused);
  // The first probe runs after the interval (1h): Docker reports "starting" for the whole test.
  await d.docker(["run", "-d", "--name", starting, "-p", `${await freePort()}:80`, "--health-cmd", "true", "--health-interval", "1h", image, "sleep", "3600"]);
  await d.docker(["run", "-d", "--name", paused, "-p", `${await freePort()}:80`, image, "sleep", "3600"]);
  await d.docker(["pause", paused]);
  const env = { ...process.env, DOCKER_HOST: d.host };
  const rowsFor = async (args: string[]) => {
    const json = JSON.parse(await runCmd(registratorCommand(["services", "-ip", "127.0.0.1", "--json", ...args]), { env })) as Array<Record<string, any>>;
    return (container: string) => json.find((r) => r.container === container && r.port === "80/tcp")?.traffic;
  };
  // The embedded registry (default) mirrors health: registered with a critical check.
  const local = await rowsFor([]);
  expect(local(starting)).toEqual({ health: "auto", registered: true, reason: "starting" });
  expect(local(paused)).toEqual({ health: "auto", registered: false, reason: "paused" });
  // etcd cannot hold an unhealthy entry: held back.
  const etcd = await rowsFor(["etcd://127.0.0.1:1"]);
  expect(etcd(starting)).toEqual({ health: "auto", registered: false, reason: "starting" });
  // Several registries: whether each would hold it.
  const both = await rowsFor(["etcd://127.0.0.1:1", "local://"]);
  expect(both(starting)).toEqual({ health: "auto", registered: false, reason: "starting", registries: { etcd: { registered: false }, local: { registered: true } } });
  // -health ignore: as gliderlabs/registrator.
  const ignore = await rowsFor(["-health", "ignore"]);
  expect(ignore(starting)).toEqual({ health: "ignore", registered: true });
  expect(ignore(paused)).toEqual({ health: "ignore", registered: true });

  const table = await runCmd(registratorCommand(["services", "-ip", "127.0.0.1", "etcd://127.0.0.1:1"]), { env });
  expect(table.split("\n")[0]).toMatch(/^CONTAINER\s+PORT\s+SERVICE\s+ADDRESS\s+TRAFFIC/);
  expect(table.split("\n").find((l) => l.startsWith(starting + " "))).toContain("out: starting (not registered)");
  await d.docker(["unpause", paused]);
});
