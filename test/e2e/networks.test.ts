// Issue 10 end to end (real dockerd, etcd v3): choosing the Docker network whose IP is registered
// (-network, SERVICE_NETWORK, a missing network skips the port), and TCP + UDP on one port with
// different names (SERVICE_<port>_<proto>_<key>).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Proc } from "../support/proc.ts";
import { HOST, e2eFile, keyIs, keysUnder, uniqueName } from "./helpers.ts";

const file = e2eFile();
const prefix = `/nets${process.pid}`;
const networks: string[] = [];
const containers: string[] = [];

afterAll(async () => {
  // Containers first (a network with endpoints cannot be removed), whatever order the hooks run in.
  if (containers.length) await file.e.dockerd.docker(["rm", "-f", ...containers]).catch(() => "");
  if (networks.length) await file.e.dockerd.docker(["network", "rm", ...networks]).catch(() => "");
});

/** A user-defined bridge network; the test dockerd gives it a /28 of its own private address pool. */
async function network(label: string): Promise<string> {
  const name = uniqueName(`net${label}`);
  await file.e.dockerd.docker(["network", "create", name]);
  networks.push(name);
  return name;
}

/** Creates a container on `first`, connects it to the other networks, then starts it: registrator sees all of them at start. */
async function onNetworks(nets: string[], args: string[] = []): Promise<string> {
  const d = file.e.dockerd;
  const name = uniqueName("multi");
  file.track(name);
  containers.push(name);
  await d.docker(["create", "--name", name, "--network", nets[0]!, ...args, d.image, "sleep", "3600"]);
  for (const n of nets.slice(1)) await d.docker(["network", "connect", n, name]);
  await d.docker(["start", name]);
  return name;
}

async function ipOn(name: string, net: string): Promise<string> {
  const c = (await file.e.dockerd.json(`/containers/${name}/json`)) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
  const ip = c.NetworkSettings.Networks[net]?.IPAddress;
  if (!ip) throw new Error(`container ${name} has no address on ${net}`);
  return ip;
}

describe("-internal -network with a container on two user-defined networks", () => {
  let a = "";
  let b = "";
  let reg: Proc;
  const key = (name: string, service: string, port: number, udp = false) => `${prefix}/${service}/${HOST}:${name}:${port}${udp ? ":udp" : ""}`;

  // One registrator for the whole describe (the tests below share it and the two networks).
  beforeAll(async () => {
    a = await network("a");
    b = await network("b");
    reg = await file.registrator(["-internal", "-network", b, `etcd://${file.e.etcd.endpoint}${prefix}`]);
  });

  test("registers the IP on the chosen network B", async () => {
    const name = await onNetworks([a, b], ["--expose", "8080"]);
    const ipB = await ipOn(name, b);
    expect(ipB).not.toBe(await ipOn(name, a));
    await keyIs(file.e, key(name, "busybox", 8080), `${ipB}:8080`, 15_000);
  });

  test("SERVICE_NETWORK=A wins over -network", async () => {
    const name = await onNetworks([a, b], ["--expose", "8081", "-e", `SERVICE_NETWORK=${a}`]);
    await keyIs(file.e, key(name, "busybox", 8081), `${await ipOn(name, a)}:8081`, 15_000);
  });

  test("a network the container lacks skips that port with one warning; the other port and the daemon go on", async () => {
    const missing = uniqueName("nope");
    const mark = reg.mark();
    const name = await onNetworks([a, b], ["--expose", "9001", "--expose", "9002", "-e", `SERVICE_9002_NETWORK=${missing}`]);
    await keyIs(file.e, key(name, "busybox-9001", 9001), `${await ipOn(name, b)}:9001`, 15_000);
    const warning = new RegExp(`Skipped port 9002/tcp of container "${name}": network "${missing}" not attached \\(has: ${[a, b].sort().join(", ")}\\)`);
    await reg.waitForLine(warning, 15_000, mark);
    expect(Object.keys(await keysUnder(file.e, `${prefix}/busybox-9002/`))).toEqual([]);

    // The daemon goes on: a later container still registers, and the warning was given once.
    const next = await onNetworks([b], ["--expose", "7000"]);
    await keyIs(file.e, key(next, "busybox", 7000), `${await ipOn(next, b)}:7000`, 15_000);
    expect(reg.lines.slice(mark).filter((l) => warning.test(l)).length).toBe(1);
    expect(reg.running).toBe(true);
  });

  test("53/tcp and 53/udp with SERVICE_53_NAME=dns and SERVICE_53_UDP_NAME=dns-udp are two services", async () => {
    const name = await onNetworks([b], ["--expose", "53/tcp", "--expose", "53/udp", "-e", "SERVICE_53_NAME=dns", "-e", "SERVICE_53_UDP_NAME=dns-udp"]);
    const ip = await ipOn(name, b);
    await keyIs(file.e, key(name, "dns", 53), `${ip}:53`, 15_000);
    await keyIs(file.e, key(name, "dns-udp", 53, true), `${ip}:53`, 15_000);
    expect(Object.keys(await keysUnder(file.e, `${prefix}/dns/`))).toEqual([key(name, "dns", 53)]);
    expect(Object.keys(await keysUnder(file.e, `${prefix}/dns-udp/`))).toEqual([key(name, "dns-udp", 53, true)]);
  });
});
