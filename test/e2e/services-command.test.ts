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
  expect(mine.find((r) => r.port === "80/tcp")?.service).toEqual({ id: `${HOST}:${name}:80`, name: "web", ip: "127.0.0.1", port, tags: ["a", "b"] });
  expect(mine.find((r) => r.port === "8080/tcp")?.ignored).toMatch(/not published/);

  const table = await runCmd(registratorCommand(["services", "-ip", "127.0.0.1"]), { env });
  const rows = table.split("\n").filter((l) => l.startsWith(name + " "));
  expect(rows.some((l) => l.includes(`${HOST}:${name}:80`) && l.includes(`127.0.0.1:${port}`))).toBe(true);
  expect(rows.some((l) => l.includes("8080/tcp") && l.includes("(ignored)"))).toBe(true);
  expect(table.split("\n")[0]).toMatch(/^CONTAINER\s+PORT\s+SERVICE/);
});
