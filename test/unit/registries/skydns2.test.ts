// skydns2 adapter without a server: URI validation and the record layout (parity "SkyDNS records").
import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { describe, expect, test } from "bun:test";
import { RegistryError } from "../../../src/errors.ts";
import { skydns2Factory, skydnsBase, skydnsLayout } from "../../../src/registries/skydns2.ts";
import type { Runtime } from "../../../src/runtime/types.ts";
import { type ServiceOverrides, adapterContext, configError, testService } from "../../support/fixtures.ts";

const service = (over: ServiceOverrides = {}) => testService({ id: "web1", ...over });

/** A context that fails any request: URI validation must not make one. */
const ctx = () =>
  adapterContext({
    fetch: (() => {
      throw new Error("no request expected");
    }) as unknown as typeof fetch,
    runtime: {} as Runtime,
  }).ctx;

describe("skydns2 URI", () => {
  test.each([
    "skydns2://127.0.0.1:2379/skydns.local",
    "skydns2:///skydns.local",
    "skydns2://h1:1,h2:2/skydns.local?api=v2",
    "skydns2+https://h:2379/example.com.",
    "skydns2://h/Sky_DNS.Local",
  ])("%s is accepted without any request", (uri) => {
    expect(skydns2Factory(parseRegistryUri(uri), ctx()).backend).toBe("skydns2");
  });

  test.each([
    ["skydns2://127.0.0.1:2379", /the domain is missing/],
    ["skydns2://127.0.0.1:2379/", /the domain is missing/],
    ["skydns2://h/a..b", /"a\.\.b" is not a DNS domain/],
    ["skydns2://h/sky dns.local", /is not a DNS domain/],
    ["skydns2://h/a/b", /"a\/b" is not a DNS domain/],
    ["skydns2://h/-bad.local", /is not a DNS domain/],
    ["skydns2://h:0/skydns.local", /port "0"/],
    ["skydns2://h/skydns.local?api=v1", /api must be v2 or v3/],
    ["etcd://h/skydns.local", /scheme must be skydns2:\/\//],
  ])("%s is a ConfigError", (uri, re) => {
    expect(configError(() => skydns2Factory(parseRegistryUri(uri), ctx())).message).toMatch(re);
  });
});

describe("skydns2 records", () => {
  test("the base path reverses the domain labels", () => {
    expect(skydnsBase("skydns.local")).toBe("/skydns/local/skydns");
    expect(skydnsBase("a.b.example.com")).toBe("/skydns/com/example/b/a");
  });

  test("key: DNS labels of name and ID (valid labels unchanged, long ones hashed)", () => {
    const l = skydnsLayout("skydns.local", 0, () => {});
    expect(l.key(service())).toBe("/skydns/local/skydns/web/web1");
    expect(l.key(service({ name: "My_App", id: "host1:My.Container:8080:udp" }))).toBe(
      "/skydns/local/skydns/my-app/host1-my-container-8080-udp",
    );
    const long = l.key(service({ id: `host1:${"x".repeat(80)}:80` }));
    const label = long.split("/").pop() as string;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^host1-x+-[0-9a-f]{8}$/);
    expect(l.key(service({ id: `host1:${"x".repeat(80)}:81` }))).not.toBe(long);
  });

  test("value: host, port, ttl (60 by default, else -ttl), priority/weight when numeric, registrator ID", () => {
    const warnings: string[] = [];
    const l = skydnsLayout("skydns.local", 0, (m) => warnings.push(m));
    expect(l.value(service())).toBe('{"host":"10.0.0.2","port":8080,"ttl":60,"registrator":"web1"}');
    expect(skydnsLayout("skydns.local", 30, () => {}).value(service())).toContain('"ttl":30');
    expect(JSON.parse(l.value(service({ attrs: { priority: "10", weight: "0" } })))).toEqual({
      host: "10.0.0.2",
      port: 8080,
      ttl: 60,
      priority: 10,
      weight: 0,
      registrator: "web1",
    });
    // SERVICE_WEIGHT_PASSING stands in for a missing SERVICE_WEIGHT, never over it
    expect(JSON.parse(l.value(service({ weights: { passing: 7, warning: 1 } }))).weight).toBe(7);
    expect(JSON.parse(l.value(service({ attrs: { weight: "3" }, weights: { passing: 7, warning: 1 } }))).weight).toBe(3);
    for (const bad of ["x", "-1", "1.5", "70000", ""]) {
      expect(JSON.parse(l.value(service({ id: `w-${bad}`, attrs: { priority: bad } }))).priority).toBeUndefined();
    }
    expect(warnings).toHaveLength(5);
    l.value(service({ id: "w-x", attrs: { priority: "x" } }));
    expect(warnings).toHaveLength(5); // once per service and attribute
    expect(JSON.parse(l.value(service({ ip: "fd00::1" }))).host).toBe("fd00::1");
  });

  test("parse: only records with our marker; ID from the marker, name from the key", () => {
    const l = skydnsLayout("skydns.local", 0, () => {});
    const value = l.value(service({ id: "host1:Web:80:udp", name: "Web" }));
    expect(l.parse({ key: "/skydns/local/skydns/web/host1-web-80-udp", value })).toEqual({
      id: "host1:Web:80:udp",
      name: "web",
      ip: "10.0.0.2",
      port: 8080,
      protocol: "udp",
      fingerprint: value,
    });
    expect(l.parse({ key: "/skydns/local/skydns/web/x", value: '{"host":"1.2.3.4","port":1}' })).toBeUndefined();
    expect(l.parse({ key: "/skydns/local/skydns/web/x", value: "{oops" })).toBeUndefined();
    expect(l.parse({ key: "/skydns/local/skydns/web", value })).toBeUndefined();
  });

  test("unsafe names and IDs are refused even though a label would be safe", () => {
    const l = skydnsLayout("skydns.local", 0, () => {});
    for (const s of [service({ name: "../x" }), service({ id: "a/b" }), service({ id: "" }), service({ name: "." })]) {
      expect(() => l.key(s)).toThrow(RegistryError);
    }
  });
});

describe("skydns2 on etcd v2: the name's directory goes with its last record", () => {
  const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });
  /** An adapter whose etcd answers the directory delete with `dirAnswer`; records every request as "METHOD url". */
  function adapter(uri: string, dirAnswer: () => Response) {
    const calls: string[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      calls.push(`${init?.method ?? "GET"} ${url}`);
      if (url.includes("dir=true")) return dirAnswer();
      if (url.includes("/v3/")) return json({ header: {} });
      return json({ action: "delete" });
    }) as typeof globalThis.fetch;
    return { a: skydns2Factory(parseRegistryUri(uri), adapterContext({ fetch, runtime: {} as Runtime }).ctx), calls };
  }

  test("deregister deletes the record, then the directory with dir=true (only removed when empty)", async () => {
    const { a, calls } = adapter("skydns2://h:1/skydns.local?api=v2", () => json({ action: "delete" }));
    await a.deregister(service({ name: "web" }));
    expect(calls).toEqual([
      "DELETE http://h:1/v2/keys/skydns/local/skydns/web/web1",
      "DELETE http://h:1/v2/keys/skydns/local/skydns/web?dir=true",
    ]);
  });

  test.each([
    ["not empty (403, errorCode 108)", () => json({ errorCode: 108, message: "Directory not empty", cause: "/skydns/local/skydns/web" }, 403)],
    ["already gone (404, errorCode 100)", () => json({ errorCode: 100, message: "Key not found" }, 404)],
  ])("a directory that is %s is fine", async (_, answer) => {
    const { a } = adapter("skydns2://h:1/skydns.local?api=v2", answer);
    await a.deregister(service());
  });

  test("any other answer fails the deregistration, so the bridge retries it", async () => {
    const { a } = adapter("skydns2://h:1/skydns.local?api=v2", () => json({ errorCode: 300, message: "Raft Internal Error" }, 500));
    const err = await a.deregister(service()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/Cannot deregister "web1" in skydns2: .*500 Raft Internal Error.*/);
  });

  test("v3 has no directories: one delete only", async () => {
    const { a, calls } = adapter("skydns2://h:1/skydns.local", () => json({}, 500));
    await a.deregister(service());
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^POST http:\/\/h:1\/v3\/kv\/deleterange$/);
  });
});
