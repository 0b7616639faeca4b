// registrator end to end against the Consul agent emulator: each TLS mode (CA-verified, client
// certificates, skip-verify; a wrong CA fails clearly), each transport (TCP, unix socket), and ACL
// tokens (env and file; a wrong token is reported once per service and never printed).
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CertBundle, type ConsulEmulator, makeCerts } from "../support/consul/index.ts";
import { tempDir, waitFor } from "../support/proc.ts";
import { consulE2eFile, escapeRe, exitWithin, linesMatching } from "./consul-helpers.ts";

// What a test starts ends with it; what a beforeAll starts, with the file.
const e = consulE2eFile();
let certs: CertBundle;
let otherCerts: CertBundle;

beforeAll(async () => {
  const dir = tempDir("regtest-consul-certs-");
  [certs, otherCerts] = await Promise.all([makeCerts(join(dir, "good")), makeCerts(join(dir, "other"))]);
});

/** A registrator with this URI and environment registers a new container, and deregisters it on rm -f. */
async function registersAContainer(emu: ConsulEmulator, uri: string, env: Record<string, string> = {}) {
  const reg = await e.registrator(["-ip", "127.0.0.1", uri], { env });
  const c = await e.redisContainer();
  await waitFor(() => emu.services()[c.serviceId], { message: `${c.serviceId} never registered through ${uri}` });
  expect(emu.services()[c.serviceId]).toMatchObject({ ID: c.serviceId, Service: "redis", Address: "127.0.0.1", Port: c.port });
  await e.dockerd.docker(["rm", "-f", c.name]);
  await waitFor(() => !emu.services()[c.serviceId], { message: `${c.serviceId} never deregistered through ${uri}` });
  expect(reg.running).toBe(true);
  await reg.stop();
  return { reg, c };
}

/** registrator must exit non-zero at startup with one line naming the agent and saying why. */
async function failsAtStartup(uri: string, env: Record<string, string>, reason: RegExp, where: string) {
  const reg = await e.registrator(["-retry-attempts", "0", uri], { env, ready: null });
  const code = await exitWithin(reg, 15_000);
  expect(code).toBe(1);
  const fatal = reg.stderr.filter((l) => l.startsWith("registrator: "));
  expect(fatal).toHaveLength(1);
  expect(fatal[0]).toContain(`Cannot reach consul at ${where}`);
  expect(fatal[0]).toMatch(reason);
  return fatal[0]!;
}

describe("TLS modes (consul-tls://)", () => {
  const tls = () => ({ cert: certs.serverCert, key: certs.serverKey });

  test("CA-verified: CONSUL_CACERT", async () => {
    const emu = await e.emulator({ tls: tls() });
    await registersAContainer(emu, `consul-tls://127.0.0.1:${emu.port}`, { CONSUL_CACERT: certs.caPath });
    // Every request went to the HTTPS listener and was answered.
    expect(emu.requests.some((r) => r.method === "PUT" && r.path === "/v1/agent/service/register" && r.status === 200)).toBe(true);
  });

  test("client certificates: CONSUL_CLIENT_CERT + CONSUL_CLIENT_KEY to an agent that requires them", async () => {
    const emu = await e.emulator({ tls: { ...tls(), ca: certs.ca, requestCert: true } });
    await registersAContainer(emu, `consul-tls://127.0.0.1:${emu.port}`, {
      CONSUL_CACERT: certs.caPath,
      CONSUL_CLIENT_CERT: certs.clientCertPath,
      CONSUL_CLIENT_KEY: certs.clientKeyPath,
    });
    // Without them the same agent refuses the handshake.
    const line = await failsAtStartup(`consul-tls://127.0.0.1:${emu.port}`, { CONSUL_CACERT: certs.caPath }, /TLS|certificate|handshake/i, `https://127.0.0.1:${emu.port}`);
    expect(line).not.toContain("PRIVATE KEY");
  });

  test("skip-verify: CONSUL_HTTP_SSL_VERIFY=false without a CA", async () => {
    const emu = await e.emulator({ tls: tls() });
    const uri = `consul-tls://127.0.0.1:${emu.port}`;
    if (process.env.REGISTRATOR_TEST_RUNTIME === "deno") {
      // Deno has no per-client switch: a clear configuration error (exit 2) instead of silently verifying.
      const reg = await e.registrator([uri], { env: { CONSUL_HTTP_SSL_VERIFY: "false" }, ready: null });
      expect(await exitWithin(reg, 15_000)).toBe(2);
      expect(reg.stderr.filter((l) => l.startsWith("registrator: "))).toEqual([
        `registrator: Cannot set up TLS for consul at https://127.0.0.1:${emu.port}: Skipping TLS verification needs Bun, or Deno with --unsafely-ignore-certificate-errors`,
      ]);
      return;
    }
    await registersAContainer(emu, uri, { CONSUL_HTTP_SSL_VERIFY: "false" });
  });

  test("a wrong CA (or none) fails clearly at startup and exits 1", async () => {
    const emu = await e.emulator({ tls: tls() });
    const uri = `consul-tls://127.0.0.1:${emu.port}`;
    const where = `https://127.0.0.1:${emu.port}`;
    await failsAtStartup(uri, { CONSUL_CACERT: otherCerts.caPath }, /certificate|verify|issuer/i, where);
    await failsAtStartup(uri, {}, /certificate|verify|issuer/i, where);
    expect(emu.requests.filter((r) => r.path !== "/v1/status/leader")).toEqual([]);
  });
});

describe("transports", () => {
  test("TCP: consul://127.0.0.1:<port>", async () => {
    const emu = await e.emulator();
    await registersAContainer(emu, `consul://127.0.0.1:${emu.port}`);
  });

  test("unix socket: consul-unix:///path", async () => {
    const socket = join(tempDir("regtest-consul-sock-"), "consul.sock");
    const emu = await e.emulator({ unixSocket: socket });
    await registersAContainer(emu, `consul-unix://${socket}`);
  });
});

describe("ACL tokens", () => {
  const TOKEN = "e2e-token-9b1f4c2a";
  const WRONG = "wrong-token-5d3e7a91";

  test("CONSUL_HTTP_TOKEN: registers, sends the token, never prints it", async () => {
    const emu = await e.emulator({ token: TOKEN });
    const { reg, c } = await registersAContainer(emu, `consul://127.0.0.1:${emu.port}`, { CONSUL_HTTP_TOKEN: TOKEN });
    const writes = emu.requests.filter((r) => r.method === "PUT" && (r.body.includes(c.serviceId) || r.path.endsWith(encodeURIComponent(c.serviceId))));
    // docker stop's SIGTERM may put the service in maintenance (-deregister-on-stop) before the die
    // deregisters it; whether that write is sent before the die arrives is the engine's timing.
    const paths = writes.map((w) => w.path).filter((p) => !p.startsWith("/v1/agent/service/maintenance/"));
    expect(paths).toEqual(["/v1/agent/service/register", `/v1/agent/service/deregister/${encodeURIComponent(c.serviceId)}`]);
    for (const w of writes) expect(w.headers["x-consul-token"]).toBe(TOKEN);
    expect(reg.lines.filter((l) => l.includes(TOKEN))).toEqual([]);
  });

  test("CONSUL_HTTP_TOKEN_FILE: registers (the file wins over CONSUL_HTTP_TOKEN)", async () => {
    const emu = await e.emulator({ token: TOKEN });
    const file = join(tempDir("regtest-consul-token-"), "token");
    writeFileSync(file, `${TOKEN}\n`);
    const { reg, c } = await registersAContainer(emu, `consul://127.0.0.1:${emu.port}`, { CONSUL_HTTP_TOKEN_FILE: file, CONSUL_HTTP_TOKEN: WRONG });
    const register = emu.requests.find((r) => r.path === "/v1/agent/service/register" && r.body.includes(c.serviceId));
    expect(register?.headers["x-consul-token"]).toBe(TOKEN);
    expect(reg.lines.filter((l) => l.includes(TOKEN) || l.includes(WRONG))).toEqual([]);
  });

  describe("a wrong token", () => {
    // One scenario, observed until the agent has refused four register attempts (the first and
    // three retries), read by the tests below.
    const ATTEMPTS = 4;
    let seen: { lines: string[]; about: string[]; attempts: number[]; registered: boolean; running: boolean };

    beforeAll(async () => {
      const emu = await e.emulator({ token: TOKEN });
      const reg = await e.registrator(["-ip", "127.0.0.1", `consul://127.0.0.1:${emu.port}`], { env: { CONSUL_HTTP_TOKEN: WRONG } });
      const mark = reg.mark();
      const c = await e.redisContainer();
      await reg.waitForLine(new RegExp(`Cannot register "${escapeRe(c.serviceId)}" in consul: 403`), 5000, mark);
      await waitFor(() => refusedAt(emu, c.serviceId).length >= ATTEMPTS, {
        timeout: 30_000,
        message: `registrator stopped retrying ${c.serviceId} before ${ATTEMPTS} refused attempts`,
      });
      seen = {
        lines: [...reg.lines],
        about: linesMatching(reg, new RegExp(escapeRe(c.serviceId)), mark),
        attempts: refusedAt(emu, c.serviceId),
        registered: emu.services()[c.serviceId] !== undefined,
        running: reg.running,
      };
    }, 60_000);

    test("a clear 403 with the ACL hint; retried with backoff but never repeated in the log; the daemon keeps running", () => {
      const denials = seen.about.filter((l) => l.includes("403"));
      expect(denials.length).toBeGreaterThanOrEqual(1);
      for (const l of denials) {
        expect(l).toMatch(/Cannot register "[^"]+" in consul: 403 ACL not found \(check CONSUL_HTTP_TOKEN \/ the token's service:write policy\)/);
      }
      // Retries continue (the agent may get the right token) with backoff, not in a tight loop:
      // the wait before the fourth attempt is longer than the wait before the second (doubling
      // delays make it four times as long; a fixed-rate loop would make them alike).
      const t = seen.attempts;
      expect(t[3]! - t[2]!).toBeGreaterThan(t[1]! - t[0]!);
      // No text is printed twice however often it is retried.
      expect(new Set(denials).size).toBe(denials.length);
      expect(denials.length).toBeLessThanOrEqual(2);
      expect(seen.registered).toBe(false);
      expect(seen.running).toBe(true);
    });

    test("the token never appears in registrator's output", () => {
      expect(seen.lines.filter((l) => l.includes(WRONG) || l.includes(TOKEN))).toEqual([]);
    });

    // README: "A 403 is reported once per service" (the bridge reports; the adapter only throws).
    test("the 403 is one line per service", () => {
      expect(seen.about.filter((l) => l.includes("403"))).toHaveLength(1);
    });
  });
});

/** When the agent refused a register attempt for `id` with 403 (ms since the epoch, oldest first). */
function refusedAt(emu: ConsulEmulator, id: string): number[] {
  return emu.requests
    .filter((r) => r.method === "PUT" && r.path === "/v1/agent/service/register" && r.status === 403 && r.body.includes(`"${id}"`))
    .map((r) => r.time);
}
