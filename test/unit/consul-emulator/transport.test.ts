// Listeners (TCP, TLS with client certificates, unix socket), restart(), fail(), the request
// log, unknown paths and methods, option validation.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CertBundle, makeCerts, startConsulEmulator } from "../../support/consul/index.ts";
import { blockedAt, call, register, until } from "./helpers.ts";

let dir: string;
let certs: CertBundle;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "consul-emu-"));
  certs = await makeCerts(join(dir, "certs"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("TCP listener", () => {
  test("binds 127.0.0.1 on a free port; url and address say where", async () => {
    const e = await startConsulEmulator();
    try {
      expect(e.port).toBeGreaterThan(0);
      expect(e.url).toBe(`http://127.0.0.1:${e.port}`);
      expect(e.address).toBe(`127.0.0.1:${e.port}`);
      expect((await fetch(`${e.url}/v1/status/leader`)).status).toBe(200);
    } finally {
      await e.stop();
    }
  });

  test("unknown paths, the root and OPTIONS answer as the agent does", async () => {
    const e = await startConsulEmulator();
    try {
      expect(await call(e, "GET", "/v1/agent/nothing")).toMatchObject({ status: 404, text: "Invalid URL path: not a recognized HTTP API endpoint\n" });
      expect(await call(e, "GET", "/agent/services")).toMatchObject({
        status: 404,
        text: "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
      });
      expect((await call(e, "GET", "/")).text).toStartWith("Consul Agent: UI disabled.");
      const opts = await call(e, "OPTIONS", "/v1/agent/service/register");
      expect(opts.status).toBe(200);
      expect(opts.headers.get("Allow")).toBe("OPTIONS,PUT");
    } finally {
      await e.stop();
    }
  });

  test.each([
    ["GET", "/v1/agent/service/register", "OPTIONS,PUT"],
    ["GET", "/v1/agent/service/deregister/x", "OPTIONS,PUT"],
    ["POST", "/v1/agent/services", "OPTIONS,GET"],
    ["PUT", "/v1/status/leader", "OPTIONS,GET"],
    ["DELETE", "/v1/catalog/services", "OPTIONS,GET"],
    ["GET", "/v1/agent/check/update/x", "OPTIONS,PUT"],
  ])("%s %s → 405 with Allow", async (method, path, allow) => {
    const e = await startConsulEmulator();
    try {
      const r = await call(e, method, path);
      expect({ status: r.status, text: r.text, allow: r.headers.get("Allow") }).toEqual({ status: 405, text: `method ${method} not allowed`, allow });
    } finally {
      await e.stop();
    }
  });
});

describe("TLS", () => {
  test("serves HTTPS with the given certificate; clients verify it with the CA", async () => {
    const e = await startConsulEmulator({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    try {
      expect(e.url).toBe(`https://127.0.0.1:${e.port}`);
      expect(e.address).toBe(e.url);
      const r = await fetch(`${e.url}/v1/status/leader`, { tls: { ca: certs.ca } } as RequestInit);
      expect(r.status).toBe(200);
      await expect(fetch(`${e.url}/v1/status/leader`)).rejects.toThrow();
      expect((await fetch(`https://localhost:${e.port}/v1/status/leader`, { tls: { ca: certs.ca } } as RequestInit)).status).toBe(200);
    } finally {
      await e.stop();
    }
  });

  test("with requestCert, a client without a certificate signed by the CA is refused", async () => {
    const e = await startConsulEmulator({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true } });
    try {
      const withCert = await fetch(`${e.url}/v1/status/leader`, {
        tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      } as RequestInit);
      expect(withCert.status).toBe(200);
      await expect(fetch(`${e.url}/v1/status/leader`, { tls: { ca: certs.ca } } as RequestInit)).rejects.toThrow();
      // A certificate from another CA is refused too.
      const other = await makeCerts(join(dir, "other"));
      await expect(
        fetch(`${e.url}/v1/status/leader`, { tls: { ca: certs.ca, cert: other.clientCert, key: other.clientKey } } as RequestInit),
      ).rejects.toThrow();
    } finally {
      await e.stop();
    }
  });

  test("makeCerts writes the PEM files it returns", async () => {
    expect(await Bun.file(certs.caPath).text()).toBe(certs.ca);
    expect(await Bun.file(certs.clientKeyPath).text()).toBe(certs.clientKey);
    expect(certs.serverCert).toStartWith("-----BEGIN CERTIFICATE-----");
  });
});

describe("unix socket", () => {
  test("serves on the socket path; url is the path, address unix://path", async () => {
    const sock = join(dir, "consul.sock");
    const e = await startConsulEmulator({ unixSocket: sock });
    try {
      expect(e.url).toBe(sock);
      expect(e.address).toBe(`unix://${sock}`);
      const r = await fetch("http://localhost/v1/status/leader", { unix: sock } as RequestInit);
      expect(await r.text()).toBe('"127.0.0.1:8300"');
      expect((await register(e, { Name: "web" })).status).toBe(200);
      await e.restart();
      expect((await call(e, "GET", "/v1/agent/services")).json()).toEqual({});
    } finally {
      await e.stop();
    }
    expect(await Bun.file(sock).exists()).toBe(false);
  });
});

describe("restart()", () => {
  test("forgets services, checks and KV; the same port answers again", async () => {
    const e = await startConsulEmulator();
    try {
      await register(e, { Name: "web", Check: { TTL: "30s" } });
      await call(e, "PUT", "/v1/kv/k", "v");
      const port = e.port;
      await e.restart();
      expect(e.port).toBe(port);
      expect([e.services(), e.checks(), e.kv()]).toEqual([{}, {}, {}]);
      expect((await call(e, "GET", "/v1/agent/services")).json()).toEqual({});
    } finally {
      await e.stop();
    }
  });

  test("drops a pending blocking query, and with downMs refuses connections for a while", async () => {
    const e = await startConsulEmulator();
    try {
      const idx = (await call(e, "GET", "/v1/catalog/services")).headers.get("X-Consul-Index");
      const pending = fetch(`${e.url}/v1/catalog/services?index=${idx}&wait=30s`).then(
        () => "answered",
        () => "dropped",
      );
      await blockedAt(e, "/v1/catalog/services");
      // Down long enough that the refused fetch below cannot miss the window on a loaded machine.
      const restarting = e.restart({ downMs: 1000 });
      expect(await pending).toBe("dropped");
      await expect(fetch(`${e.url}/v1/status/leader`)).rejects.toThrow();
      await restarting;
      expect((await fetch(`${e.url}/v1/status/leader`)).status).toBe(200);
    } finally {
      await e.stop();
    }
  });
});

describe("fail()", () => {
  test("injects a status for matching paths and methods until cleared", async () => {
    const e = await startConsulEmulator();
    try {
      e.fail({ status: 500, paths: /^\/v1\/agent\/service\/register/ });
      expect(await register(e, { Name: "web" })).toMatchObject({ status: 500, text: "rpc error making call: No cluster leader" });
      expect((await call(e, "GET", "/v1/status/leader")).status).toBe(200);
      e.fail({ status: 503, body: "busy", methods: ["GET"] });
      expect(await call(e, "GET", "/v1/agent/services")).toMatchObject({ status: 503, text: "busy" });
      expect((await register(e, { Name: "web" })).status).toBe(200);
      e.fail(null);
      expect((await call(e, "GET", "/v1/agent/services")).status).toBe(200);
    } finally {
      await e.stop();
    }
  });

  test("times and untilMs end the fault on their own", async () => {
    const e = await startConsulEmulator();
    try {
      e.fail({ status: 500, times: 2 });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await call(e, "GET", "/v1/status/leader")).status);
      expect(statuses).toEqual([500, 500, 200]);
      e.fail({ status: 500, untilMs: 100 });
      expect((await call(e, "GET", "/v1/status/leader")).status).toBe(500);
      await until(async () => (await call(e, "GET", "/v1/status/leader")).status === 200);
    } finally {
      await e.stop();
    }
  });

  test("delayMs slows answers (with or without a status)", async () => {
    const e = await startConsulEmulator();
    try {
      e.fail({ delayMs: 200 });
      let started = Date.now();
      expect((await call(e, "GET", "/v1/status/leader")).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      e.fail({ delayMs: 100, status: 429 });
      started = Date.now();
      expect((await call(e, "GET", "/v1/status/leader")).status).toBe(429);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      await e.stop();
    }
  });
});

describe("request log", () => {
  test("records method, path, query, headers, body text, status and time; clearLog() empties it", async () => {
    const e = await startConsulEmulator();
    try {
      const before = Date.now();
      await register(e, { Name: "web" }, "?replace-existing-checks", { "X-Consul-Token": "t" });
      await call(e, "GET", "/v1/nope");
      expect(e.requests).toHaveLength(2);
      expect(e.requests[0]).toMatchObject({
        method: "PUT",
        path: "/v1/agent/service/register",
        query: { "replace-existing-checks": "" },
        rawQuery: "replace-existing-checks",
        body: '{"Name":"web"}',
        status: 200,
      });
      expect(e.requests[0]?.headers["x-consul-token"]).toBe("t");
      expect(e.requests[0]?.time).toBeGreaterThanOrEqual(before);
      expect(e.requests[1]).toMatchObject({ path: "/v1/nope", status: 404 });
      e.clearLog();
      expect(e.requests).toHaveLength(0);
    } finally {
      await e.stop();
    }
  });
});

describe("options", () => {
  test.each([
    [{ bogus: 1 }, /Unrecognized key/],
    [{ tls: { cert: "c", key: "k", requestCert: true } }, /requestCert needs tls.ca/],
    [{ port: -1 }, /too_small|>=0|Too small/i],
    [{ tls: { cert: "c", key: "k" }, unixSocket: "/tmp/x.sock" }, /cannot be combined/],
  ])("%j is refused", async (opts, message) => {
    await expect(startConsulEmulator(opts as never)).rejects.toThrow(message);
  });
});
