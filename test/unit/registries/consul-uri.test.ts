import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../src/errors.ts";
import { memoryLogger } from "../../../src/log.ts";
import { splitUri } from "../../../src/hostport.ts";
import { parseConsulAddr } from "../../../src/registries/consul-client.ts";
import { parseConsulUri } from "../../../src/registries/consul.ts";
import { parseConsulKvUri } from "../../../src/registries/consulkv.ts";
import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { configError } from "../../support/fixtures.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];
const ctx = (vars: Record<string, string> = {}) => ({ env: envOf(vars), log: memoryLogger() });

describe("consul URIs", () => {
  test.each([
    ["consul://", { kind: "http", host: "127.0.0.1", port: 8500, prefix: "" }],
    ["consul:", { kind: "http", host: "127.0.0.1", port: 8500, prefix: "" }],
    ["consul://consul.local:8600", { kind: "http", host: "consul.local", port: 8600, prefix: "" }],
    ["consul://consul.local", { kind: "http", host: "consul.local", port: 8500, prefix: "" }],
    ["consul://consul.local:8500/", { kind: "http", host: "consul.local", port: 8500, prefix: "" }],
    ["consul://[::1]:8500", { kind: "http", host: "::1", port: 8500, prefix: "" }],
    ["CONSUL://10.0.0.1:1", { kind: "http", host: "10.0.0.1", port: 1, prefix: "" }],
    ["consul-tls://consul.local:8501", { kind: "https", host: "consul.local", port: 8501, prefix: "" }],
    ["consul-tls://consul.local", { kind: "https", host: "consul.local", port: 8501, prefix: "" }],
    ["consul-tls://", { kind: "https", host: "127.0.0.1", port: 8501, prefix: "" }],
    ["consul-unix:///var/run/consul.sock", { kind: "unix", socketPath: "/var/run/consul.sock", prefix: "" }],
  ])("%s", (uri, endpoint) => {
    expect(parseConsulUri(parseRegistryUri(uri), ctx()).endpoint).toEqual(endpoint as never);
  });

  test.each([
    ["consul://h:0", /port must be a number from 1 to 65535/],
    ["consul://h:65536", /port must be a number/],
    ["consul://h:", /port must be a number/],
    ["consul://h:http", /expected host:port/],
    ["consul://us er@h:1", /expected host:port/],
    ["consul://h:1/some/path", /takes no path/],
    ["consul-unix://", /consul-unix:\/\/\/absolute\/path/],
    ["consul-unix://relative.sock", /consul-unix:\/\/\/absolute\/path/],
    ["consul-unix:///", /consul-unix:\/\/\/absolute\/path/],
    ["consulx://h:1", /expected consul:\/\/host:port, consul-tls/],
    ["consul:h:1", /expected consul:\/\/host:port/],
  ])("%s is a ConfigError", (uri, re) => {
    const msg = configError(() => parseConsulUri(parseRegistryUri(uri), ctx())).message;
    expect(msg).toContain(`"${uri}"`);
    expect(msg).toMatch(re);
  });

  test("CONSUL_HTTP_ADDR is the default address when the URI has none", () => {
    expect(parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_ADDR: "10.1.1.1:8600" })).endpoint).toEqual({
      kind: "http",
      host: "10.1.1.1",
      port: 8600,
      prefix: "",
    });
    expect(parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_ADDR: "https://c.example" })).endpoint).toEqual({
      kind: "https",
      host: "c.example",
      port: 443,
      prefix: "",
    });
    expect(parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_ADDR: "http://c.example:81/consul/" })).endpoint).toEqual({
      kind: "http",
      host: "c.example",
      port: 81,
      prefix: "/consul",
    });
    expect(parseConsulUri(parseRegistryUri("consul:"), ctx({ CONSUL_HTTP_ADDR: "unix:///run/consul.sock" })).endpoint).toEqual({
      kind: "unix",
      socketPath: "/run/consul.sock",
      prefix: "",
    });
    // consul-tls forces TLS on the variable's host.
    expect(parseConsulUri(parseRegistryUri("consul-tls://"), ctx({ CONSUL_HTTP_ADDR: "c:8501" })).endpoint).toEqual({
      kind: "https",
      host: "c",
      port: 8501,
      prefix: "",
    });
  });

  test("the URI's host wins over CONSUL_HTTP_ADDR", () => {
    expect(parseConsulUri(parseRegistryUri("consul://a:1"), ctx({ CONSUL_HTTP_ADDR: "b:2" })).endpoint).toEqual({
      kind: "http",
      host: "a",
      port: 1,
      prefix: "",
    });
  });

  test("CONSUL_HTTP_SSL=true makes consul:// use https", () => {
    expect(parseConsulUri(parseRegistryUri("consul://a:1"), ctx({ CONSUL_HTTP_SSL: "true" })).endpoint.kind).toBe("https");
    expect(parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_SSL: "1", CONSUL_HTTP_ADDR: "b:2" })).endpoint.kind).toBe("https");
    expect(configError(() => parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_SSL: "yes" }))).message).toContain('CONSUL_HTTP_SSL "yes"');
  });

  test.each([
    ["ftp://h:1", /scheme must be http:\/\/, https:\/\/ or unix:\/\//],
    ["unix://rel.sock", /unix:\/\/\/absolute/],
    ["h:99999", /port must be/],
    ["", null],
  ])("bad CONSUL_HTTP_ADDR %p", (addr, re) => {
    if (re === null) {
      // Empty means unset.
      expect(parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_ADDR: addr })).endpoint).toMatchObject({ host: "127.0.0.1" });
      return;
    }
    const msg = configError(() => parseConsulUri(parseRegistryUri("consul://"), ctx({ CONSUL_HTTP_ADDR: addr }))).message;
    expect(msg).toContain("CONSUL_HTTP_ADDR");
    expect(msg).toMatch(re);
  });

  test("consul-tls cannot use a unix CONSUL_HTTP_ADDR", () => {
    expect(configError(() => parseConsulUri(parseRegistryUri("consul-tls://"), ctx({ CONSUL_HTTP_ADDR: "unix:///x.sock" }))).message).toContain(
      "consul-tls",
    );
  });
});

describe("CONSUL_* environment", () => {
  test("token, token file, TLS settings", () => {
    const s = parseConsulUri(
      parseRegistryUri("consul-tls://c:8501"),
      ctx({
        CONSUL_HTTP_TOKEN: " tok ",
        CONSUL_HTTP_TOKEN_FILE: "/t",
        CONSUL_CACERT: "/ca.pem",
        CONSUL_CLIENT_CERT: "/c.pem",
        CONSUL_CLIENT_KEY: "/k.pem",
        CONSUL_TLS_SERVER_NAME: "consul.example:8501",
        CONSUL_HTTP_SSL_VERIFY: "false",
        CONSUL_NAMESPACE: "team",
      }),
    );
    expect(s).toMatchObject({
      token: "tok",
      tokenFile: "/t",
      caFile: "/ca.pem",
      certFile: "/c.pem",
      keyFile: "/k.pem",
      serverName: "consul.example",
      insecure: true,
      query: { ns: "team" },
    });
  });

  test("verification stays on unless CONSUL_HTTP_SSL_VERIFY is false", () => {
    expect(parseConsulUri(parseRegistryUri("consul-tls://c"), ctx()).insecure).toBe(false);
    expect(parseConsulUri(parseRegistryUri("consul-tls://c"), ctx({ CONSUL_HTTP_SSL_VERIFY: "true" })).insecure).toBe(false);
    expect(parseConsulUri(parseRegistryUri("consul-tls://c"), ctx({ CONSUL_HTTP_SSL_VERIFY: "0" })).insecure).toBe(true);
    expect(configError(() => parseConsulUri(parseRegistryUri("consul-tls://c"), ctx({ CONSUL_HTTP_SSL_VERIFY: "nope" }))).message).toContain(
      "CONSUL_HTTP_SSL_VERIFY",
    );
  });

  test.each([
    [{ CONSUL_CLIENT_CERT: "/c.pem" }, "only CONSUL_CLIENT_CERT"],
    [{ CONSUL_CLIENT_KEY: "/k.pem" }, "only CONSUL_CLIENT_KEY"],
  ])("client certificate and key go together %p", (vars, part) => {
    const msg = configError(() => parseConsulUri(parseRegistryUri("consul-tls://c"), ctx(vars))).message;
    expect(msg).toContain("CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together");
    expect(msg).toContain(part);
  });

  test("the token never appears in a ConfigError", () => {
    const msg = configError(() =>
      parseConsulUri(parseRegistryUri("consul://h:0"), ctx({ CONSUL_HTTP_TOKEN: "s3cr3t-token" })),
    ).message;
    expect(msg).not.toContain("s3cr3t-token");
  });

  test("CONSUL_CAPATH is warned about, not silently ignored", () => {
    const c = ctx({ CONSUL_CAPATH: "/etc/ssl/consul" });
    parseConsulUri(parseRegistryUri("consul-tls://c"), c);
    expect(c.log.lines.some((l) => l.level === "warn" && l.msg.includes("CONSUL_CAPATH"))).toBe(true);
  });
});

describe("consulkv URIs", () => {
  test.each([
    ["consulkv://c:8500/services", { kind: "http", host: "c", port: 8500, prefix: "" }, ["services"]],
    ["consulkv://c/a/b/", { kind: "http", host: "c", port: 8500, prefix: "" }, ["a", "b"]],
    ["consulkv:///reg", { kind: "http", host: "127.0.0.1", port: 8500, prefix: "" }, ["reg"]],
    ["consulkv-unix:///run/consul.sock:/services", { kind: "unix", socketPath: "/run/consul.sock", prefix: "" }, ["services"]],
    ["consulkv-unix:///run/consul.sock:services/x", { kind: "unix", socketPath: "/run/consul.sock", prefix: "" }, ["services", "x"]],
  ])("%s", (uri, endpoint, prefix) => {
    const r = parseConsulKvUri(parseRegistryUri(uri), ctx());
    expect(r.settings.endpoint).toEqual(endpoint as never);
    expect(r.prefix).toEqual(prefix);
  });

  test("consulkv:///prefix uses CONSUL_HTTP_ADDR", () => {
    expect(parseConsulKvUri(parseRegistryUri("consulkv:///p"), ctx({ CONSUL_HTTP_ADDR: "https://k:9" })).settings.endpoint).toEqual({
      kind: "https",
      host: "k",
      port: 9,
      prefix: "",
    });
  });

  test.each([
    ["consulkv://c:8500", /a key prefix is required/],
    ["consulkv://c:8500/", /a key prefix is required/],
    ["consulkv://c:8500///", /a key prefix is required/],
    ["consulkv-unix:///run/consul.sock", /a key prefix is required/],
    ["consulkv-unix:///run/consul.sock:/", /a key prefix is required/],
    ["consulkv://c:8500/a//b", /prefix segment is empty/],
    ["consulkv://c:8500/a/../b", /prefix segment is "\.\."/],
    ["consulkv-unix://rel.sock:/p", /consulkv-unix:\/\/\/absolute/],
    ["consulkv://c:x/p", /expected host:port/],
  ])("%s is a ConfigError", (uri, re) => {
    const msg = configError(() => parseConsulKvUri(parseRegistryUri(uri), ctx())).message;
    expect(msg).toContain(`"${uri}"`);
    expect(msg).toMatch(re);
  });
});

describe("helpers", () => {
  test("splitUri", () => {
    expect(splitUri("consul://u:p@h:1/p?x=1#f")).toEqual({
      scheme: "consul",
      authority: "u:p@h:1",
      userinfo: "u:p",
      hosts: "h:1",
      path: "/p",
      query: "x=1",
      fragment: "f",
    });
    expect(splitUri("consul:")).toEqual({ scheme: "consul", authority: undefined, userinfo: undefined, hosts: "", path: "", query: "", fragment: undefined });
  });
  test("an IPv6 zone is kept, and a bare IPv6 address is refused", () => {
    expect(parseConsulAddr("[fe80::1%eth0]:9", false)).toMatchObject({ host: "fe80::1%eth0", port: 9 });
    expect(() => parseConsulAddr("::1", false)).toThrow(ConfigError);
  });
  test("parseConsulAddr without scheme uses Consul's ports", () => {
    expect(parseConsulAddr("h", false)).toMatchObject({ kind: "http", port: 8500 });
    expect(parseConsulAddr("h", true)).toMatchObject({ kind: "https", port: 8501 });
    expect(parseConsulAddr("http://h", false)).toMatchObject({ kind: "http", port: 80 });
  });
});
