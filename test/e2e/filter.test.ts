// -filter end to end (real dockerd, etcd v3): for each kind of expression, a container that matches
// is registered and one that does not is left out, with the filter named in the log and in
// `registrator services`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exposing } from "../support/image.ts";
import { run as runCmd } from "../support/proc.ts";
import { registratorCommand } from "../support/registrator.ts";
import { HOST, e2eFile, keysUnder, uniqueName } from "./helpers.ts";
import type { Proc } from "../support/proc.ts";
import { waitFor } from "../support/proc.ts";

const file = e2eFile();
const networks: string[] = [];
let seq = 0;

afterAll(async () => {
  if (networks.length) await file.e.dockerd.docker(["network", "rm", ...networks]).catch(() => "");
});

/** A registrator with these filters writing under its own etcd prefix (-internal: no host ports needed). */
async function filtered(filters: string[]): Promise<{ reg: Proc; prefix: string }> {
  const prefix = `/filter${process.pid}x${++seq}`;
  const reg = await file.registrator(["-internal", ...filters.flatMap((f) => ["-filter", f]), `etcd://${file.e.etcd.endpoint}${prefix}`]);
  return { reg, prefix };
}

async function idOf(name: string): Promise<string> {
  return (await file.e.dockerd.docker(["inspect", "-f", "{{.Id}}", name])).trim();
}

/** The etcd keys of one container under a prefix. */
async function keysOf(prefix: string, name: string): Promise<string[]> {
  return Object.keys(await keysUnder(file.e, `${prefix}/`)).filter((k) => k.endsWith(`/${HOST}:${name}:80`));
}

/**
 * `match` registers; `miss` is left out with a log line naming `expr`, and nothing of it is in
 * etcd once that line is written (derivation and the write decision are one step in the bridge).
 */
async function expectSplit(reg: Proc, prefix: string, expr: string, match: string, miss: string): Promise<void> {
  await waitFor(async () => (await keysOf(prefix, match)).length === 1, { timeout: 15_000, interval: 20, message: `${match} never registered under ${prefix}` });
  const id = (await idOf(miss)).slice(0, 12);
  await reg.waitForLine(new RegExp(`ignored: ${id} port -: left out by -filter ${expr.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), 15_000);
  expect(await keysOf(prefix, miss)).toEqual([]);
}

describe("-filter", () => {
  test("label=K=V: the container with the label value registers, the one with another value does not", async () => {
    const { reg, prefix } = await filtered(["label=com.example.expose=yes"]);
    const miss = await file.container(["--expose", "80", "-l", "com.example.expose=no"], undefined, "lblno");
    const match = await file.container(["--expose", "80", "-l", "com.example.expose=yes"], undefined, "lblyes");
    await expectSplit(reg, prefix, "label=com.example.expose=yes", match, miss);
  });

  test("label=K: having the label is enough", async () => {
    const { reg, prefix } = await filtered(["label=com.example.expose"]);
    const miss = await file.container(["--expose", "80"], undefined, "hasno");
    const match = await file.container(["--expose", "80", "-l", "com.example.expose="], undefined, "has");
    await expectSplit(reg, prefix, "label=com.example.expose", match, miss);
  });

  test("label!=K: a container with the label is left out", async () => {
    const { reg, prefix } = await filtered(["label!=com.example.private"]);
    const miss = await file.container(["--expose", "80", "-l", "com.example.private=1"], undefined, "priv");
    const match = await file.container(["--expose", "80"], undefined, "pub");
    await expectSplit(reg, prefix, "label!=com.example.private", match, miss);
  });

  test("name=REGEX is unanchored on the container name", async () => {
    const { reg, prefix } = await filtered(["name=-api-"]);
    const miss = await file.container(["--expose", "80"], undefined, "shop-worker-");
    const match = await file.container(["--expose", "80"], undefined, "shop-api-");
    await expectSplit(reg, prefix, "name=-api-", match, miss);
  });

  test("network=NAME: only containers attached to that network", async () => {
    const net = uniqueName("fnet");
    await file.e.dockerd.docker(["network", "create", net]);
    networks.push(net);
    const { reg, prefix } = await filtered([`network=${net}`]);
    const miss = await file.container(["--expose", "80"], undefined, "onbridge");
    const match = await file.container(["--expose", "80", "--network", net], undefined, "onnet");
    await expectSplit(reg, prefix, `network=${net}`, match, miss);
  });

  test("image=REGEX on the image the container was started from", async () => {
    const web = await exposing(file.e.dockerd, "regtest/filterweb", [80]);
    const { reg, prefix } = await filtered(["image=^regtest/filterweb"]);
    const miss = await file.container(["--expose", "80"], undefined, "busy");
    const name = uniqueName("web");
    file.track(name);
    await file.e.dockerd.docker(["run", "-d", "--name", name, web, "sleep", "3600"]);
    await expectSplit(reg, prefix, "image=^regtest/filterweb", name, miss);
  });

  test("a container re-created with other labels is removed, and registered again when it matches again", async () => {
    const { reg, prefix } = await filtered(["label=com.example.expose=yes"]);
    const name = uniqueName("recreated");
    file.track(name);
    const d = file.e.dockerd;
    const start = (value: string) => d.docker(["run", "-d", "--name", name, "--expose", "80", "-l", `com.example.expose=${value}`, d.image, "sleep", "3600"]);
    const registered = (n: number) =>
      waitFor(async () => (await keysOf(prefix, name)).length === n, { timeout: 15_000, interval: 20, message: `${name} never had ${n} keys under ${prefix}` });
    await start("yes");
    await registered(1);
    await d.docker(["rm", "-f", name]);
    await start("no");
    await registered(0);
    await reg.waitForLine(new RegExp(`ignored: ${(await idOf(name)).slice(0, 12)} port -: left out by -filter label=com\\.example\\.expose=yes`), 15_000);
    await d.docker(["rm", "-f", name]);
    await start("yes");
    await registered(1);
  });
});

test("registrator services names the filter that left a container out", async () => {
  const miss = await file.container(["--expose", "80", "-l", "tier=db"], undefined, "svcdb");
  const match = await file.container(["--expose", "80", "-l", "tier=web"], undefined, "svcweb");
  const env = { ...process.env, DOCKER_HOST: file.e.dockerd.host };
  const args = ["services", "-internal", "-filter", "label=tier", "-filter", "label=tier=web", "--json"];
  const rows = JSON.parse(await runCmd(registratorCommand(args), { env })) as Array<Record<string, any>>;
  expect(rows.filter((r) => r.container === miss)).toEqual([{ container: miss, containerId: (await idOf(miss)).slice(0, 12), port: "-", ignored: "left out by -filter label=tier=web" }]);
  expect(rows.find((r) => r.container === match)?.service?.id).toBe(`${HOST}:${match}:80`);
});

test("an invalid -filter exits 2 naming the flag", async () => {
  const env = { ...process.env, DOCKER_HOST: file.e.dockerd.host };
  const err = await runCmd(registratorCommand(["-filter", "tier=web", "local://"]), { env }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(String(err)).toMatch(/exit 2\).*Invalid value for flag -filter: "tier=web" is not a filter/);
});
