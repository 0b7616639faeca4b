// consul-tls:// and https CONSUL_HTTP_ADDR against the emulator serving HTTPS: CA verification,
// server name, client certificates (mutual TLS) and CONSUL_HTTP_SSL_VERIFY=false.
import { parseRegistryUri } from "../../src/registries/uri.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError, RegistryError } from "../../src/errors.ts";
import { consulFactory } from "../../src/registries/consul.ts";
import { consulKvFactory } from "../../src/registries/consulkv.ts";
import { type CertBundle, type ConsulEmulator, makeCerts, startConsulEmulator } from "../support/consul/index.ts";
import { adapterContext, rejection, testService } from "../support/fixtures.ts";
import { tempDir } from "../support/proc.ts";

const context = (env: Record<string, string>) => adapterContext({ env }).ctx;

/** A service with an HTTPS check, as the TLS tests register it. */
const service = (id: string) =>
  testService({ id, checks: [{ kind: "https", target: "https://10.0.0.2:8080/health", tlsSkipVerify: true, interval: "10s" }] });

let certs: CertBundle;
beforeAll(async () => {
  certs = await makeCerts(tempDir("consul-certs-"));
});

describe("consul over TLS (server certificate)", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator({ tls: { cert: certs.serverCert, key: certs.serverKey } });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("CONSUL_CACERT verifies the agent; register, list, deregister work", async () => {
    const a = consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({ CONSUL_CACERT: certs.caPath }));
    const s = service("host1:tls:80");
    await a.ping();
    await a.register(s);
    expect(emu.services()[s.id]).toMatchObject({ Service: "web" });
    expect((await a.list!()).find((l) => l.id === s.id)?.fingerprint).toBe(a.fingerprint!(s));
    await a.deregister(s);
    expect(emu.services()[s.id]).toBeUndefined();
  });

  test("without the CA the agent's certificate is refused", async () => {
    emu.clearLog();
    const e = await rejection(consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({})).ping(), RegistryError);
    expect(e.message).toStartWith(`Cannot reach consul at https://127.0.0.1:${emu.port}: `);
    expect(e.message).toMatch(/certificate|verify/i);
    expect(emu.requests).toHaveLength(0);
  });

  test("CONSUL_HTTP_SSL_VERIFY=false skips verification", async () => {
    const a = consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({ CONSUL_HTTP_SSL_VERIFY: "false" }));
    await a.ping();
    await a.register(service("host1:insecure:80"));
    expect(emu.services()["host1:insecure:80"]).toBeDefined();
  });

  test("CONSUL_TLS_SERVER_NAME is the name verified", async () => {
    // The certificate names server.dc1.consul (and 127.0.0.1): that name verifies, another does not.
    const ok = consulFactory(
      parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`),
      context({ CONSUL_CACERT: certs.caPath, CONSUL_TLS_SERVER_NAME: "server.dc1.consul:8501" }),
    );
    await ok.ping();
    const bad = consulFactory(
      parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`),
      context({ CONSUL_CACERT: certs.caPath, CONSUL_TLS_SERVER_NAME: "other.example" }),
    );
    emu.clearLog();
    const e = await rejection(bad.ping(), RegistryError);
    expect(e.message).toMatch(/ALTNAME|certificate|host ?name/i);
    expect(emu.requests).toHaveLength(0);
  });

  test("CONSUL_HTTP_ADDR=https://… makes consul:// use TLS, consulkv too", async () => {
    const env = { CONSUL_HTTP_ADDR: `https://127.0.0.1:${emu.port}`, CONSUL_CACERT: certs.caPath };
    await consulFactory(parseRegistryUri("consul://"), context(env)).ping();
    const kv = consulKvFactory(parseRegistryUri("consulkv:///tls-services"), context(env));
    await kv.register(service("host1:kvtls:80"));
    expect(emu.kv()["tls-services/web/host1:kvtls:80"]).toBe("10.0.0.2:8080");
  });

  test("an unreadable CONSUL_CACERT is a ConfigError naming the variable", async () => {
    const a = consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({ CONSUL_CACERT: "/nonexistent/ca.pem" }));
    const e = await rejection(a.ping(), ConfigError);
    expect(e.message).toStartWith('Cannot read CONSUL_CACERT "/nonexistent/ca.pem"');
  });
});

describe("consul over mutual TLS (client certificate required)", () => {
  let emu: ConsulEmulator;
  beforeAll(async () => {
    emu = await startConsulEmulator({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true } });
  });
  afterAll(async () => {
    await emu?.stop();
  });

  test("CONSUL_CLIENT_CERT + CONSUL_CLIENT_KEY are presented", async () => {
    const a = consulFactory(
      parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`),
      context({ CONSUL_CACERT: certs.caPath, CONSUL_CLIENT_CERT: certs.clientCertPath, CONSUL_CLIENT_KEY: certs.clientKeyPath }),
    );
    await a.ping();
    await a.register(service("host1:mtls:80"));
    expect(emu.services()["host1:mtls:80"]).toBeDefined();
  });

  test("without a client certificate the agent refuses the connection", async () => {
    emu.clearLog();
    const a = consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({ CONSUL_CACERT: certs.caPath }));
    const e = await rejection(a.register(service("host1:nocert:80")), RegistryError);
    expect(e.message).toStartWith(`Cannot register "host1:nocert:80" in consul: https://127.0.0.1:${emu.port}: `);
    expect(emu.services()["host1:nocert:80"]).toBeUndefined();
  });

  test("a client certificate without its key is refused at startup", () => {
    expect(() =>
      consulFactory(parseRegistryUri(`consul-tls://127.0.0.1:${emu.port}`), context({ CONSUL_CACERT: certs.caPath, CONSUL_CLIENT_CERT: certs.clientCertPath })),
    ).toThrow(ConfigError);
  });
});
