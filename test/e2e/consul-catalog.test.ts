// consul-catalog:// end to end (real dockerd, the Consul emulator as the catalog): this host as an
// external node, the Docker health mirror as a catalog check carrying its status, deregistration,
// and anti-entropy without an agent after the catalog forgets a service.
import { expect, test } from "bun:test";
import { registratorCommand } from "../support/registrator.ts";
import { run as runCmd, waitFor } from "../support/proc.ts";
import { HOST, consulE2eFile } from "./consul-helpers.ts";

const e = consulE2eFile();

const HEALTH = ["--health-cmd", "test -f /tmp/ok && echo ready", "--health-interval", "1s", "--health-retries", "1"];

test("register as an external node, health changes, anti-entropy after the catalog forgets, deregister on stop", async () => {
  const emu = await e.emulator();
  const reg = await e.registrator(["-ip", "127.0.0.1", "-consul-sync", "1", `consul-catalog://127.0.0.1:${emu.port}`]);
  const c = await e.redisContainer(HEALTH, "cat");
  const checkId = `registrator:${c.serviceId}:docker-health`;
  const node = () => emu.catalogNode(HOST);

  // Registered at once (health "starting" → a critical check), on this host's node with ESM's NodeMeta.
  await waitFor(() => node()?.services.get(c.serviceId), { message: `${c.serviceId} never reached the catalog` });
  expect(node()).toMatchObject({ Node: HOST, Address: "127.0.0.1", Meta: { "external-node": "true", "external-probe": "true" } });
  expect(node()!.services.get(c.serviceId)).toMatchObject({ Service: "redis", Address: "127.0.0.1", Port: c.port, Weights: { Passing: 1, Warning: 1 } });
  await waitFor(() => node()?.checks.get(checkId)?.Status === "critical", { message: "the mirror check never was critical while starting" });
  expect(node()!.checks.get(checkId)).toMatchObject({ ServiceID: c.serviceId, Name: "Docker health" });
  // Nothing went to the agent endpoints: there is no agent.
  expect(emu.requests.filter((r) => r.path.startsWith("/v1/agent/"))).toEqual([]);

  // Healthy: the catalog check turns passing, written by registrator.
  await e.dockerd.docker(["exec", c.name, "touch", "/tmp/ok"]);
  await waitFor(() => node()?.checks.get(checkId)?.Status === "passing", { timeout: 20_000, message: "the mirror check never turned passing" });

  // The catalog forgets the service (an operator, or a server restore): -consul-sync writes it again.
  const forgot = await emu.fetch("/v1/catalog/deregister", { method: "PUT", body: JSON.stringify({ Node: HOST, ServiceID: c.serviceId }) });
  expect(forgot.status).toBe(200);
  expect(node()?.services.has(c.serviceId)).toBe(false);
  await waitFor(() => node()?.services.get(c.serviceId), { timeout: 20_000, message: `${c.serviceId} was not registered again after the catalog forgot it` });
  await waitFor(() => node()?.checks.get(checkId)?.Status === "passing", { message: "the mirror check did not come back passing" });

  // docker stop: deregistered through the catalog.
  await e.dockerd.docker(["stop", "-t", "0", c.name]);
  await waitFor(() => node() !== undefined && !node()!.services.has(c.serviceId), { timeout: 20_000, message: `${c.serviceId} still in the catalog after docker stop` });
  expect(emu.requests.some((r) => r.path === "/v1/catalog/deregister" && r.body.includes(c.serviceId) && r.status === 200)).toBe(true);
  expect(emu.requests.filter((r) => r.path.startsWith("/v1/catalog/") && r.status >= 400)).toEqual([]);
  expect(reg.running).toBe(true);
});

test("-ttl with consul-catalog:// exits 2 explaining that no agent runs TTL checks", async () => {
  const err = await runCmd(registratorCommand(["-ttl", "30", "-ttl-refresh", "10", "consul-catalog://127.0.0.1:1"]), {
    env: { ...process.env, DOCKER_HOST: e.dockerd.host },
  }).then(
    () => undefined,
    (x: unknown) => String(x),
  );
  expect(err).toMatch(/exit 2\).*-ttl cannot be used with consul-catalog:\/\/: a TTL check is run by the Consul agent/);
});
