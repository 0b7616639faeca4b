// registrator end to end on an etcd with TLS (client certificates required) and authentication:
// the right credentials work; a wrong password or a wrong CA end startup with a clear message,
// and the password never appears in registrator's output.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type Etcd, type TestCerts, makeTestCerts, startEtcd } from "../support/etcd.ts";
import { join } from "node:path";
import { freePort, run as runCmd, waitFor, type Proc } from "../support/proc.ts";
import { startRegistrator } from "../support/registrator.ts";
import { e2eEnv, HOST, registrator, rmf, run, uniqueName, type Env } from "./helpers.ts";

let e: Env;
let certs: TestCerts;
let etcd: Etcd;
/** A client certificate without a CommonName (see noCnClientCert). */
let client: { cert: string; key: string };
const procs: Proc[] = [];
const started: string[] = [];
const PASSWORD = `Pw-${process.pid}-s3cr3t`;
const WRONG = `Wrong-${process.pid}-pa55`;

/**
 * etcd (3.4–3.6) answers 400 "CommonName of client sending a request against gateway will be
 * ignored…" to every /v3 gateway request whose client certificate has a CommonName once
 * client-cert-auth and authentication are both on (embed/serve.go): the JSON gateway cannot carry
 * a CN identity. Users of the gateway (registrator) need a client certificate without one.
 */
async function noCnClientCert(c: TestCerts): Promise<{ cert: string; key: string }> {
  const p = (f: string) => join(c.dir, f);
  await runCmd(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", p("nocn.key"), "-out", p("nocn.csr"), "-subj", "/O=registrator-e2e"]);
  await Bun.write(p("nocn.ext"), "extendedKeyUsage=clientAuth\n");
  await runCmd(["openssl", "x509", "-req", "-in", p("nocn.csr"), "-CA", c.caFile, "-CAkey", p("ca.key"),
    "-CAcreateserial", "-out", p("nocn.crt"), "-days", "2", "-extfile", p("nocn.ext")]);
  return { cert: p("nocn.crt"), key: p("nocn.key") };
}

beforeAll(async () => {
  const dockerd = e2eEnv();
  certs = await makeTestCerts();
  client = await noCnClientCert(certs);
  etcd = await startEtcd({
    name: "secure-e2e",
    tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caFile, clientCertAuth: true },
  });
  // The helpers read etcd with the client certificate, then as root once auth is on.
  etcd.clientTls = { caFile: certs.caFile, certFile: client.cert, keyFile: client.key };
  await etcd.enableAuth("root", PASSWORD);
  e = await dockerd;
}, 60_000);

// What a test started ends with it: no registrator of an earlier test writes during a later one.
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
  await rmf(e, ...started.splice(0));
});

afterAll(async () => {
  await etcd?.stop();
}, 60_000);

function tlsEnv(o: { ca?: string; user?: string; cert?: string; key?: string } = {}): Record<string, string> {
  return {
    ETCDCTL_CACERT: o.ca ?? certs.caFile,
    ETCDCTL_CERT: o.cert ?? client.cert,
    ETCDCTL_KEY: o.key ?? client.key,
    ETCDCTL_USER: o.user ?? `root:${PASSWORD}`,
  };
}

/** Runs registrator expecting it to end at startup; resolves with its exit code and output. */
async function startupFailure(args: string[], env: Record<string, string>, timeout = 20_000) {
  const p = await startRegistrator(["-http", `127.0.0.1:${await freePort()}`, ...args], { dockerHost: e.dockerd.host, env });
  procs.push(p);
  let timer: Timer | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<"still running">((r) => (timer = setTimeout(() => r("still running"), timeout))),
  ]);
  clearTimeout(timer);
  if (code === "still running") throw new Error(`registrator did not exit within ${timeout} ms; last lines:\n${p.tail()}`);
  return { code, output: p.lines.join("\n"), stderr: p.stderr.join("\n") };
}

describe("etcd with TLS and authentication", () => {
  test("etcd+https:// with ETCDCTL_CACERT/CERT/KEY and ETCDCTL_USER=root:<pw> registers and deregisters", async () => {
    const prefix = `/secure${process.pid}`;
    const p = await registrator(e, ["-ip", "127.0.0.1", "-log-level", "debug", `etcd+https://${etcd.endpoint}${prefix}`], { env: tlsEnv() });
    procs.push(p);
    const name = uniqueName("sec");
    started.push(name);
    const port = await freePort();
    await run(e, ["--name", name, "-p", `${port}:6379`]);
    const key = `${prefix}/busybox/${HOST}:${name}:6379`;
    await waitFor(async () => (await etcd.get(key)) === `127.0.0.1:${port}`, { timeout: 5000, message: `${key} not registered` });
    await rmf(e, name);
    await waitFor(async () => (await etcd.get(key)) === undefined, { timeout: 5000, message: `${key} not deregistered` });
    expect(p.running).toBe(true);
    expect(p.lines.join("\n")).not.toContain(PASSWORD);
    await p.stop();
    expect(p.lines.join("\n")).not.toContain(PASSWORD);
  });

  test("a wrong password exits 2 at startup naming the problem, never printing the password (even with -retry-attempts -1)", async () => {
    for (const retry of ["0", "-1"]) {
      const r = await startupFailure(
        ["-ip", "127.0.0.1", "-log-level", "debug", "-retry-attempts", retry, `etcd+https://${etcd.endpoint}/secure`],
        tlsEnv({ user: `root:${WRONG}` }),
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/authentication failed/);
      expect(r.stderr).toContain('"root"');
      expect(r.stderr).toContain("ETCDCTL_USER");
      expect(r.output).not.toContain(WRONG);
      expect(r.output).not.toContain(PASSWORD);
    }
  });

  test("a wrong CA fails the first ping: exit 1 at startup with a TLS hint naming the endpoint", async () => {
    const r = await startupFailure(
      ["-ip", "127.0.0.1", `etcd+https://${etcd.endpoint}/secure`],
      tlsEnv({ ca: certs.otherCaFile }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`https://${etcd.endpoint}`);
    expect(r.stderr).toContain("ETCDCTL_CACERT");
    expect(r.output).not.toContain(PASSWORD);
  });

  test("a wrong CA with -retry-attempts 2 retries twice, then exits 1", async () => {
    const r = await startupFailure(
      ["-ip", "127.0.0.1", "-retry-attempts", "2", "-retry-interval", "100", `etcd+https://${etcd.endpoint}/secure`],
      tlsEnv({ ca: certs.otherCaFile }),
    );
    expect(r.code).toBe(1);
    expect(r.output.split("\n").filter((l) => /not reachable/.test(l)).length).toBe(2);
    expect(r.output).not.toContain(PASSWORD);
  });

  test("a client certificate with a CommonName: etcd's gateway refuses it, startup fails naming the reason", async () => {
    const r = await startupFailure(
      ["-ip", "127.0.0.1", `etcd+https://${etcd.endpoint}/secure`],
      tlsEnv({ cert: certs.clientCert, key: certs.clientKey }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("CommonName");
    expect(r.stderr).toContain(`https://${etcd.endpoint}`);
    expect(r.output).not.toContain(PASSWORD);
  });

  test("no client certificate: the TLS handshake is refused, startup fails", async () => {
    const r = await startupFailure(["-ip", "127.0.0.1", `etcd+https://${etcd.endpoint}/secure`], {
      ETCDCTL_CACERT: certs.caFile,
      ETCDCTL_USER: `root:${PASSWORD}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`https://${etcd.endpoint}`);
    expect(r.output).not.toContain(PASSWORD);
  });

  test("plain http (etcd:// without ETCDCTL_CACERT) against the TLS port fails at startup too", async () => {
    const r = await startupFailure(["-ip", "127.0.0.1", `etcd://${etcd.endpoint}/secure`], { ETCDCTL_USER: `root:${PASSWORD}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(etcd.endpoint);
    expect(r.output).not.toContain(PASSWORD);
  });

  for (const scheme of ["skydns2+https", "skydns2"]) {
    test(`${scheme}:// with the same credentials writes SkyDNS records over TLS with auth`, async () => {
      const domain = `${scheme === "skydns2" ? "plain" : "https"}${process.pid}.secure.test`;
      const p = await registrator(e, ["-ip", "127.0.0.1", `${scheme}://${etcd.endpoint}/${domain}`], { env: tlsEnv() });
      procs.push(p);
      const name = uniqueName("sec");
      started.push(name);
      const port = await freePort();
      await run(e, ["--name", name, "-p", `${port}:80`, "-e", "SERVICE_ID=web1"]);
      const key = `/skydns/${domain.split(".").reverse().join("/")}/busybox/web1`;
      const want = { host: "127.0.0.1", port, ttl: 60, registrator: "web1" };
      await waitFor(async () => {
        const v = await etcd.get(key);
        return v !== undefined && JSON.stringify(JSON.parse(v)) === JSON.stringify(want);
      }, { timeout: 5000, message: `${key} not registered` });
      await rmf(e, name);
      await waitFor(async () => (await etcd.get(key)) === undefined, { timeout: 5000, message: `${key} not deregistered` });
      expect(p.lines.join("\n")).not.toContain(PASSWORD);
      await p.stop();
    });
  }
});
