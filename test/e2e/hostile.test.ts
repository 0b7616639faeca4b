// Hostile input end to end (issue 11): container values cannot forge log lines, startup errors do
// not echo credentials, and a label named after an Object.prototype member is just a label.
import { expect, test } from "bun:test";
import { spawn, run as runCmd, freePort, waitFor } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { startZookeeper, zookeeperMissing } from "../support/zookeeper.ts";
import { e2eFile, HOST, run, uniqueName } from "./helpers.ts";

// What a test started ends with it: no registrator of an earlier test writes during a later one.
const file = e2eFile();

const FORGED = "FORGED info  removed: 0123456789ab host:payments:443";

test("values with CR/LF, U+2028, ESC and NUL reach the text log escaped: no forged line", async () => {
  const p = await file.registrator(["-ip", "127.0.0.1", `skydns2://${file.e.etcd.endpoint}/hostile${process.pid}.local`]);
  const name = uniqueName("forge");
  file.track(name);
  const port = await freePort();
  await run(file.e, [
    "--name", name, "-p", `${port}:6379`,
    "-e", `SERVICE_PRIORITY=1\n${FORGED}`,
    "-e", `SERVICE_WEIGHT=2\r\n${FORGED}\u2028${FORGED}`,
    "-e", `SERVICE_HEALTH=x\u001b[2J\n${FORGED}`,
  ]);
  await p.waitForLine(/ignoring weight/, 30_000);
  await p.waitForLine(/SERVICE_HEALTH/, 30_000);
  await p.waitForLine(new RegExp(`added: \\S+ ${HOST}:${name}:6379`), 30_000);
  const all = [...p.stdout, ...p.stderr];
  expect(all.filter((l) => l.startsWith("FORGED") || l.includes("\u2028") || l.includes("\u001b"))).toEqual([]);
  const mentions = all.filter((l) => l.includes(FORGED));
  expect(mentions.length).toBeGreaterThanOrEqual(3);
  for (const l of mentions) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+ (warn |info )/);
  expect(mentions.some((l) => l.includes(`\\r\\n${FORGED}\\u2028${FORGED}`))).toBe(true);
});

test.each([
  [["consul://admin:hunter22@127.0.0.1:99999"], {}],
  [["consulkv://admin:hunter22@127.0.0.1:8500"], {}],
  [["etcd://root:hunter22@127.0.0.1:2379/x?bad=1"], {}],
  [["unknown://root:hunter22@h"], {}],
  [["consul://"], { CONSUL_HTTP_ADDR: "ops:hunter22@consul:99999" }],
  [["consul://"], { CONSUL_HTTP_ADDR: "https://ops:hunter22@consul:8501/x", CONSUL_HTTP_SSL: "maybe" }],
  [["etcd://127.0.0.1:2379/x"], { DOCKER_HOST: "tcp://me:hunter22@docker:2375" }],
])("startup error for %j %j: exit 2, one line, no password", async (args, env) => {
  const p = spawn(registratorCommand(args), { env: { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock", ...env } });
  expect(await p.exited).toBe(2);
  expect(p.stderr).toHaveLength(1);
  expect(p.stderr[0]).toStartWith("registrator: ");
  expect(p.stderr[0]).not.toContain("hunter22");
});

test("registrator services -useIpFromLabel constructor: exit 0, the container listed with the host IP", async () => {
  const name = uniqueName("proto");
  file.track(name);
  const port = await freePort();
  await run(file.e, ["--name", name, "-p", `${port}:6379`, "--label", "toString=x"]);
  const env = { ...process.env, DOCKER_HOST: file.e.dockerd.host };
  for (const label of ["constructor", "__proto__", "toString"]) {
    const rows = JSON.parse(await runCmd(registratorCommand(["services", "-ip", "127.0.0.1", "-useIpFromLabel", label, "--json"]), { env })) as Array<{
      container: string;
      service?: { ip: string; port: number };
      warnings?: string[];
    }>;
    const mine = rows.filter((r) => r.container === name);
    expect(mine.find((r) => r.service)?.service).toMatchObject({ ip: "127.0.0.1", port });
    if (label === "toString") expect(mine.some((r) => r.warnings?.some((w) => w.includes("-useIpFromLabel")))).toBe(true);
  }
});

test.skipIf(zookeeperMissing())("zookeeper: a name the server refuses is skipped with one warning; /ready stays 200 and the next container registers", async () => {
  const zk = await startZookeeper();
  try {
    const http = await freePort();
    const p = await file.registrator(["-http", `127.0.0.1:${http}`, "-ip", "127.0.0.1", `zookeeper://${zk.connectString}/hostile`]);
    const ready = async () => (await fetch(`http://127.0.0.1:${http}/ready`)).status;
    await waitFor(async () => (await ready()) === 200, { timeout: 30_000, message: "/ready never 200" });
    const [bad, good] = [uniqueName("emoji"), uniqueName("plain")];
    file.track(bad);
    file.track(good);
    await run(file.e, ["--name", bad, "-p", `${await freePort()}:6379`, "-e", "SERVICE_NAME=web-\u{1F680}"]);
    await p.waitForLine(new RegExp(`Not registering "${HOST}:${bad}:6379".*U\\+1F680`), 30_000);
    const port = await freePort();
    await run(file.e, ["--name", good, "-p", `${port}:6379`]);
    await p.waitForLine(new RegExp(`added: \\S+ ${HOST}:${good}:6379`), 30_000);
    expect(await ready()).toBe(200);
    expect(p.lines.filter((l) => l.includes(`Not registering "${HOST}:${bad}:6379"`))).toHaveLength(1);
    expect(p.lines.filter((l) => l.includes(bad) && /will retry|Cannot register/.test(l))).toEqual([]);
  } finally {
    await zk.stop();
  }
}, 90_000);
