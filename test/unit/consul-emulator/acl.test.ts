// ACLs (protocols.md 2.1): token from ?token=, X-Consul-Token or Authorization: Bearer;
// unknown token → 403 "ACL not found"; no token → the anonymous token, denied with Consul's text.

import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { type ConsulEmulator, startConsulEmulator } from "../../support/consul/index.ts";
import { call, register } from "./helpers.ts";

const TOKEN = "s3cr3t-token";
const emu: ConsulEmulator = await startConsulEmulator({ token: TOKEN, nodeName: "node-a" });
afterAll(() => emu.stop());
beforeEach(() => emu.restart());

const ok = { "X-Consul-Token": TOKEN };
const denied = (resource: string, name: string) =>
  `Permission denied: anonymous token lacks permission '${resource}' on "${name}". The anonymous token is used implicitly when a request does not specify a token.`;

describe("the token is found where the agent looks", () => {
  test.each([
    ["X-Consul-Token", "", { "X-Consul-Token": TOKEN }],
    ["?token=", `?token=${TOKEN}`, {}],
    ["Authorization: Bearer", "", { Authorization: `Bearer ${TOKEN}` }],
  ])("%s", async (_, q, headers) => {
    expect((await register(emu, { Name: "web" }, q, headers)).status).toBe(200);
    expect(Object.keys(emu.services())).toEqual(["web"]);
  });

  test("?token= wins over the header", async () => {
    const r = await register(emu, { Name: "web" }, "?token=wrong", ok);
    expect(r).toMatchObject({ status: 403, text: "ACL not found" });
  });
});

describe("unknown token → 403 ACL not found", () => {
  test.each([
    ["GET", "/v1/agent/self"],
    ["GET", "/v1/agent/services"],
    ["GET", "/v1/agent/checks"],
    ["PUT", "/v1/agent/service/deregister/web"],
    ["PUT", "/v1/agent/check/pass/service:web"],
    ["GET", "/v1/catalog/services"],
    ["GET", "/v1/catalog/service/web"],
    ["GET", "/v1/health/service/web"],
    ["GET", "/v1/kv/k"],
    ["PUT", "/v1/kv/k"],
    ["DELETE", "/v1/kv/k"],
  ])("%s %s", async (method, path) => {
    const r = await call(emu, method, path, method === "PUT" ? "" : undefined, { "X-Consul-Token": "wrong" });
    expect({ status: r.status, text: r.text }).toEqual({ status: 403, text: "ACL not found" });
  });

  test("register decodes the body before looking at the token", async () => {
    expect(await register(emu, { Bogus: 1 }, "", { "X-Consul-Token": "wrong" })).toMatchObject({ status: 400 });
    expect(await register(emu, { Name: "web" }, "", { "X-Consul-Token": "wrong" })).toMatchObject({ status: 403, text: "ACL not found" });
  });
});

describe("no token: the anonymous token with default policy deny", () => {
  test("writes are refused with Consul's permission-denied text", async () => {
    expect(await register(emu, { Name: "web" })).toMatchObject({ status: 403, text: denied("service:write", "web") });
    expect(await call(emu, "PUT", "/v1/kv/app/x", "v")).toMatchObject({ status: 403, text: denied("key:write", "app/x") });
    await register(emu, { Name: "web", Check: { TTL: "30s" } }, "", ok);
    expect(await call(emu, "PUT", "/v1/agent/service/deregister/web")).toMatchObject({ status: 403, text: denied("service:write", "web") });
    expect(await call(emu, "PUT", "/v1/agent/check/pass/service:web")).toMatchObject({ status: 403, text: denied("service:write", "web") });
    expect(await call(emu, "PUT", "/v1/agent/service/maintenance/web?enable=true")).toMatchObject({ status: 403, text: denied("service:write", "web") });
    expect(await call(emu, "PUT", "/v1/agent/service/maintenance/web?enable=true", undefined, ok)).toMatchObject({ status: 200 });
    expect(Object.keys(emu.services())).toEqual(["web"]);
  });

  test("single-object reads are refused", async () => {
    expect(await call(emu, "GET", "/v1/agent/self")).toMatchObject({ status: 403, text: denied("agent:read", "node-a") });
    expect(await call(emu, "GET", "/v1/kv/k")).toMatchObject({ status: 403, text: denied("key:read", "k") });
  });

  test("list reads are filtered to nothing, as a real agent does", async () => {
    await register(emu, { Name: "web" }, "", ok);
    await call(emu, "PUT", "/v1/kv/k", "v", ok);
    expect((await call(emu, "GET", "/v1/agent/services")).json()).toEqual({});
    expect((await call(emu, "GET", "/v1/catalog/services")).json()).toEqual({});
    expect((await call(emu, "GET", "/v1/catalog/service/web")).json()).toEqual([]);
    expect((await call(emu, "GET", "/v1/kv/?recurse")).status).toBe(404);
    expect((await call(emu, "GET", "/v1/agent/services", undefined, ok)).json()).toHaveProperty("web");
  });

  test("unknown IDs are still 404 before any permission check", async () => {
    expect((await call(emu, "PUT", "/v1/agent/service/deregister/nope")).status).toBe(404);
    expect((await call(emu, "PUT", "/v1/agent/service/maintenance/nope?enable=true")).status).toBe(404);
  });
});

describe("unauthenticated endpoints and headers", () => {
  test("/v1/status/leader needs no token", async () => {
    expect(await call(emu, "GET", "/v1/status/leader", undefined, { "X-Consul-Token": "wrong" })).toMatchObject({ status: 200 });
  });

  test("X-Consul-Default-ACL-Policy is deny with ACLs, allow without", async () => {
    expect((await call(emu, "GET", "/v1/status/leader")).headers.get("X-Consul-Default-ACL-Policy")).toBe("deny");
    const open = await startConsulEmulator();
    try {
      expect((await call(open, "GET", "/v1/status/leader")).headers.get("X-Consul-Default-ACL-Policy")).toBe("allow");
      // Without ACLs any token is accepted.
      expect((await register(open, { Name: "x" }, "", { "X-Consul-Token": "anything" })).status).toBe(200);
    } finally {
      await open.stop();
    }
  });
});
