// The one host:port grammar every address goes through (-http, DOCKER_HOST, registry URIs,
// CONSUL_HTTP_ADDR, etcd values), and the one redaction of registry URIs.
import { describe, expect, test } from "bun:test";
import { listenAddress } from "../../src/config.ts";
import { parseHostPort, splitUri } from "../../src/hostport.ts";
import { createAdapter } from "../../src/registries/index.ts";
import { redactUri } from "../../src/registries/uri.ts";
import { adapterContext } from "../support/fixtures.ts";

describe("parseHostPort", () => {
  test.each<[string, object, object]>([
    ["h:1", {}, { host: "h", port: 1 }],
    ["my_host.local", { defaultPort: 2379 }, { host: "my_host.local", port: 2379 }],
    ["[::1]:80", {}, { host: "::1", port: 80 }],
    ["[fe80::1%eth0]", { defaultPort: 9 }, { host: "fe80::1%eth0", port: 9 }],
    [":8485", { defaultHost: "127.0.0.1" }, { host: "127.0.0.1", port: 8485 }],
    ["0.0.0.0:0", { minPort: 0 }, { host: "0.0.0.0", port: 0 }],
    ["h", {}, { error: "port", portText: "" }],
    ["h:0", {}, { error: "port", portText: "0" }],
    ["h:65536", {}, { error: "port", portText: "65536" }],
    ["h:x", {}, { error: "port", portText: "x" }],
    ["::1", { defaultPort: 1 }, { error: "host" }],
    ["[h]:1", {}, { error: "host" }],
    [":1", {}, { error: "host" }],
    ["a b:1", {}, { error: "host" }],
    ["u@h:1", {}, { error: "host" }],
  ])("%s %j", (text, opts, want) => expect(parseHostPort(text, opts)).toEqual(want as never));

  test("-http: no host is loopback, port 0 is any free port, brackets come off", () => {
    expect(listenAddress(":8485")).toEqual({ hostname: "127.0.0.1", port: 8485 });
    expect(listenAddress("[::]:0")).toEqual({ hostname: "::", port: 0 });
    expect(listenAddress("nowhere")).toBeNull();
  });
});

describe("splitUri", () => {
  test("the userinfo is the part before the last @", () => {
    expect(splitUri("etcd://a@b:c@h:1,h2/p")).toMatchObject({ userinfo: "a@b:c", hosts: "h:1,h2", path: "/p" });
  });
  test("no scheme → undefined", () => expect(splitUri("h:1")).toMatchObject({ scheme: "h", authority: undefined }));
});

describe("registry URIs", () => {
  test("one redaction, one output", () => {
    expect(redactUri("etcd://root:hunter2@h:2379/p")).toBe("etcd://root:[redacted]@h:2379/p");
  });
  test.each([
    ["nothing", /expected <scheme>:\/\/<address>/],
    ["consul:", /expected <scheme>:\/\/<address>/],
    ["bogus://h", /Unknown registry "bogus:\/\/"/],
    ["etcd://root:hunter2@h/p", /credentials do not belong in the URI/],
  ])("%s is refused before any connection", async (uri, re) => {
    const e = await createAdapter(uri, adapterContext().ctx).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(e?.message).toMatch(re);
    expect(e?.message).not.toContain("hunter2");
  });
});
