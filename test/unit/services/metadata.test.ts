import { describe, expect, test } from "bun:test";
import { attributes, containerMetadata, parseBool, parseTags, serviceMetadata } from "../../../src/services/metadata.ts";
import { container } from "../builders.ts";

describe("serviceMetadata", () => {
  const cases: Array<{
    name: string;
    env?: Record<string, string> | string[];
    labels?: Record<string, string>;
    port?: number;
    meta: Record<string, string>;
    fromPort?: string[];
  }> = [
    { name: "env is read", env: { SERVICE_NAME: "api" }, meta: { name: "api" } },
    { name: "labels are read", labels: { SERVICE_NAME: "api" }, meta: { name: "api" } },
    { name: "label beats env with the same key", env: { SERVICE_NAME: "env" }, labels: { SERVICE_NAME: "label" }, meta: { name: "label" } },
    {
      name: "per-port key beats the global key",
      env: { SERVICE_80_NAME: "port" },
      labels: { SERVICE_NAME: "global" },
      meta: { name: "port" },
      fromPort: ["name"],
    },
    { name: "per-port key of another port is not used", env: { SERVICE_8080_NAME: "other", SERVICE_NAME: "g" }, meta: { name: "g" } },
    { name: "the rest of the key is lower-cased as a whole", env: { SERVICE_Check_HTTP: "/x" }, meta: { check_http: "/x" } },
    { name: "per-port keys are lower-cased too", labels: { SERVICE_80_CHECK_TCP: "true" }, meta: { check_tcp: "true" }, fromPort: ["check_tcp"] },
    { name: "prefix is case-sensitive", env: { service_name: "x", Service_Name: "y" }, meta: {} },
    { name: "other variables are not metadata", env: { PATH: "/bin", NAME: "x" }, labels: { "com.example": "1" }, meta: {} },
    { name: "values keep '=' after the first", env: ["SERVICE_TAGS=a=b,c"], meta: { tags: "a=b,c" } },
    { name: "empty values are kept", env: ["SERVICE_IGNORE="], meta: { ignore: "" } },
    { name: "entries without '=' are skipped", env: ["SERVICE_NAME"], meta: {} },
    { name: "later env entry wins", env: ["SERVICE_NAME=a", "SERVICE_NAME=b"], meta: { name: "b" } },
    { name: "attributes keep raw values", env: { SERVICE_REGION: "EU West" }, meta: { region: "EU West" } },
    { name: "port given as a number of another value", env: { SERVICE_53_NAME: "dns" }, port: 53, meta: { name: "dns" }, fromPort: ["name"] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const md = serviceMetadata(container({ env: c.env, labels: c.labels }), c.port ?? 80);
      expect(md.meta).toEqual(c.meta);
      expect([...md.fromPort].sort()).toEqual(c.fromPort ?? []);
    });
  }

  test("source names the key as written", () => {
    const md = serviceMetadata(container({ env: { SERVICE_NAME: "g" }, labels: { SERVICE_80_Name: "p", SERVICE_TAGS: "t" } }), "80");
    expect(md.source).toEqual({ name: "SERVICE_80_Name", tags: "SERVICE_TAGS" });
  });
});

describe("attributes", () => {
  test("check request headers are not published as attributes (they may hold credentials)", () => {
    const a = attributes({ check_http: "/h", check_http_header_authorization: "Bearer t", check_2_http_header_x: "1", region: "eu" });
    expect({ ...a }).toEqual({ check_http: "/h", region: "eu" });
  });

  test("every key but name, id, tags, ignore, sorted", () => {
    const a = attributes({ name: "n", id: "i", tags: "t", ignore: "", check_http: "/h", enable_tag_override: "1", region: "eu" });
    expect(a).toEqual({ check_http: "/h", enable_tag_override: "1", region: "eu" });
    expect(Object.keys(a)).toEqual(["check_http", "enable_tag_override", "region"]);
  });
});

describe("parseBool", () => {
  const off = ["false", "FALSE", "0", "no", "No", "off", "OFF", "", "  ", " false "];
  const on = ["true", "1", "yes", "on", "anything", "disabled"];
  for (const v of off) test(`${JSON.stringify(v)} is off`, () => expect(parseBool(v)).toBe(false));
  for (const v of on) test(`${JSON.stringify(v)} is on`, () => expect(parseBool(v)).toBe(true));
  test("absent is off", () => expect(parseBool(undefined)).toBe(false));
});

describe("parseTags", () => {
  const cases: Array<[string | undefined, string[]]> = [
    [undefined, []],
    ["", []],
    ["a,b,c", ["a", "b", "c"]], // written order (registrator reversed it)
    ["c,b,a", ["c", "b", "a"]],
    [" a , b ", ["a", "b"]],
    ["a,,b,", ["a", "b"]],
    ["a,b,a", ["a", "b"]],
    ["a\\,b,c", ["a,b", "c"]],
    ["x\\y,z", ["x\\y", "z"]],
    ["\\,", [","]],
  ];
  for (const [input, want] of cases) test(`${JSON.stringify(input)}`, () => expect(parseTags(input)).toEqual(want));
});

describe("containerMetadata", () => {
  test("forPort gives per port what serviceMetadata gives, parsed once", () => {
    const c = container({
      env: { SERVICE_NAME: "g", SERVICE_80_NAME: "web", SERVICE_443_TAGS: "tls" },
      labels: { SERVICE_REGION: "eu", SERVICE_80_REGION: "us" },
    });
    const md = containerMetadata(c);
    for (const port of [80, 443, 8080]) {
      const one = md.forPort(port);
      const ref = serviceMetadata(c, port);
      expect(one.meta).toEqual(ref.meta);
      expect(one.source).toEqual(ref.source);
      expect([...one.fromPort].sort()).toEqual([...ref.fromPort].sort());
    }
    expect(md.forPort(80).meta).toEqual({ name: "web", region: "us" });
    expect(md.forPort(443).meta).toEqual({ name: "g", region: "eu", tags: "tls" });
  });

  test("ports without their own keys share one Metadata", () => {
    const md = containerMetadata(container({ env: { SERVICE_NAME: "g", SERVICE_80_NAME: "web" } }));
    expect(md.forPort(81)).toBe(md.forPort(82));
    expect(md.forPort(80)).not.toBe(md.forPort(81));
  });
});

describe("per-protocol keys", () => {
  const c = container({
    env: { SERVICE_NAME: "g", SERVICE_53_NAME: "dns", SERVICE_53_UDP_NAME: "dns-udp", SERVICE_53_tcp_Tags: "t", SERVICE_UDP_X: "global" },
  });
  test("SERVICE_<port>_<proto>_<key> beats SERVICE_<port>_<key> for that protocol only", () => {
    const md = containerMetadata(c);
    expect(md.forPort(53, "udp").meta).toEqual({ name: "dns-udp", udp_x: "global" });
    expect(md.forPort(53, "tcp").meta).toEqual({ name: "dns", tags: "t", udp_x: "global" });
    expect(md.forPort(53).meta).toEqual(md.forPort(53, "tcp").meta);
    expect([...md.forPort(53, "udp").fromPort]).toEqual(["name"]);
    expect(md.forPort(53, "udp").source.name).toBe("SERVICE_53_UDP_NAME");
  });
  test("another port sees none of them", () => {
    expect(containerMetadata(c).forPort(80, "udp").meta).toEqual({ name: "g", udp_x: "global" });
  });
  test("health, network and ip_family are not attributes", () => {
    expect(attributes({ health: "ignore", network: "a", ip_family: "ipv6", region: "eu" })).toEqual({ region: "eu" });
  });
});

describe("port ranges: SERVICE_<from>-<to>_<key>", () => {
  const env = {
    SERVICE_NAME: "g",
    "SERVICE_8000-8099_NAME": "wide",
    "SERVICE_8000-8099_REGION": "eu",
    "SERVICE_8000-8009_NAME": "narrow",
    SERVICE_8005_NAME: "single",
    "SERVICE_8000-8099_UDP_NAME": "wide-udp",
    "SERVICE_8050-8059_TAGS": "a",
    "SERVICE_8055-8064_TAGS": "b",
    "SERVICE_1-65535_TIER": "all",
  } as Record<string, string>;
  const md = containerMetadata(container({ env }));
  const cases: Array<{ port: number; proto?: string; meta: Record<string, string>; source?: string }> = [
    { port: 80, meta: { name: "g", tier: "all" } },
    { port: 8000, meta: { name: "narrow", region: "eu", tier: "all" }, source: "SERVICE_8000-8009_NAME" },
    { port: 8009, meta: { name: "narrow", region: "eu", tier: "all" } },
    { port: 8010, meta: { name: "wide", region: "eu", tier: "all" }, source: "SERVICE_8000-8099_NAME" },
    { port: 8099, meta: { name: "wide", region: "eu", tier: "all" } },
    { port: 8100, meta: { name: "g", tier: "all" } },
    { port: 8005, meta: { name: "single", region: "eu", tier: "all" }, source: "SERVICE_8005_NAME" },
    // per protocol within the wide range: beats the wide range's any-protocol key, not the narrower range
    { port: 8020, proto: "udp", meta: { name: "wide-udp", region: "eu", tier: "all" } },
    { port: 8001, proto: "udp", meta: { name: "narrow", region: "eu", tier: "all" } },
    // equal widths overlapping: the one starting higher wins, whatever the key order
    { port: 8052, meta: { name: "wide", region: "eu", tier: "all", tags: "a" } },
    { port: 8057, meta: { name: "wide", region: "eu", tier: "all", tags: "b" } },
    { port: 8062, meta: { name: "wide", region: "eu", tier: "all", tags: "b" } },
  ];
  test.each(cases)("port $port/$proto", ({ port, proto, meta, source }) => {
    const m = md.forPort(port, proto);
    expect({ ...m.meta }).toEqual(meta);
    if (source) expect(m.source.name).toBe(source);
  });

  test("range keys count as per-port keys (the name is not suffixed with the port)", () => {
    expect([...md.forPort(8010).fromPort].sort()).toEqual(["name", "region", "tier"]);
  });

  test("ports in the same ranges share one Metadata; other ranges do not", () => {
    expect(md.forPort(8011)).toBe(md.forPort(8012));
    expect(md.forPort(8011)).not.toBe(md.forPort(8001));
    expect(md.forPort(8011, "udp")).not.toBe(md.forPort(8011, "tcp"));
  });

  test("a label range beats an env range of the same span like any key", () => {
    const m = containerMetadata(container({ env: { "SERVICE_10-20_NAME": "env" }, labels: { "SERVICE_10-20_NAME": "label" } }));
    expect(m.forPort(15).meta.name).toBe("label");
  });

  test.each(["SERVICE_20-10_NAME", "SERVICE_0-10_NAME", "SERVICE_10-65536_NAME"])("%s holds no port: a problem, applied nowhere", (key) => {
    const m = containerMetadata(container({ env: { [key]: "x" } }));
    expect(m.problems).toEqual([{ key, value: "x", reason: expect.stringMatching(/holds no port \(expected <from>-<to> with 1 <= from <= to <= 65535\)/) }]);
    expect({ ...m.forPort(10).meta }).toEqual({});
    expect({ ...m.forPort(15).meta }).toEqual({});
  });

  test("not a range: SERVICE_A-B_NAME stays a global attribute", () => {
    expect({ ...containerMetadata(container({ env: { "SERVICE_A-B_NAME": "x" } })).forPort(80).meta }).toEqual({ "a-b_name": "x" });
  });
});
