import { describe, expect, test } from "bun:test";
import { FLAGS, type FlagSpec, flagSchema, flagsFromEnv, loadConfig, parseGoFlags } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";

const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env);
const fails = (argv: string[], pattern: RegExp, env: Record<string, string> = {}) => {
  let err: unknown;
  try {
    load(argv, env);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).not.toContain("\n");
};

describe("Go flag syntax", () => {
  test.each([
    [["-ip", "1.2.3.4", "consul://"]],
    [["-ip=1.2.3.4", "consul://"]],
    [["--ip", "1.2.3.4", "consul://"]],
    [["--ip=1.2.3.4", "consul://"]],
  ])("%j sets -ip", (argv) => {
    const c = load(argv);
    expect(c.ip).toBe("1.2.3.4");
    expect(c.uri).toBe("consul://");
  });

  test("bare boolean flags mean true and do not eat the URI", () => {
    const c = load(["-internal", "-cleanup", "etcd://127.0.0.1:2379/s"]);
    expect(c.internal).toBe(true);
    expect(c.cleanup).toBe(true);
    expect(c.uri).toBe("etcd://127.0.0.1:2379/s");
  });

  test("-bool=false turns a boolean off", () => {
    expect(load(["-internal=false", "consul://"]).internal).toBe(false);
  });

  test("the registrator command line of the README parses", () => {
    const c = load(["-ip", "10.0.0.5", "-resync", "30", "consul://localhost:8500"]);
    expect(c).toMatchObject({ ip: "10.0.0.5", resync: 30, uri: "consul://localhost:8500", deregister: "always" });
  });

  test("flag names are case-insensitive like -useIpFromLabel", () => {
    expect(load(["-useIpFromLabel", "ip.label", "consul://"]).useIpFromLabel).toBe("ip.label");
    expect(load(["-useipfromlabel=x", "consul://"]).useIpFromLabel).toBe("x");
  });

  test("parsing stops at the first non-flag", () => {
    expect(parseGoFlags(["-internal", "consul://", "-ip", "1.1.1.1"]).rest).toEqual(["consul://", "-ip", "1.1.1.1"]);
  });

  test("no URI means the embedded registry", () => {
    expect(load([]).uri).toBe("local://");
    expect(load([]).uris).toEqual(["local://"]);
    expect(load(["etcd://127.0.0.1:2379", "local://"]).uris).toEqual(["etcd://127.0.0.1:2379", "local://"]);
  });
});

describe("environment", () => {
  test("REGISTRATOR_<FLAG> sets a flag, and the command line wins", () => {
    expect(load([], { REGISTRATOR_RESYNC: "30" }).resync).toBe(30);
    expect(load(["-resync", "5"], { REGISTRATOR_RESYNC: "30" }).resync).toBe(5);
    expect(load([], { REGISTRATOR_TTL: "30", REGISTRATOR_TTL_REFRESH: "10" })).toMatchObject({ ttl: 30, "ttl-refresh": 10 });
    expect(flagsFromEnv({ REGISTRATOR_USE_IP_FROM_LABEL: "a" })).toEqual({ useIpFromLabel: "a" });
    expect(load([], { REGISTRATOR_INTERNAL: "true" }).internal).toBe(true);
  });

  test("an invalid env value names the flag", () => {
    fails([], /-resync/, { REGISTRATOR_RESYNC: "often" });
  });
});

describe("validation: one clear line", () => {
  test.each<[string[], RegExp]>([
    [["-ttl", "10", "etcd://"], /-ttl and -ttl-refresh go together/],
    [["-ttl-refresh", "10", "etcd://"], /-ttl and -ttl-refresh go together/],
    [["-ttl", "10", "-ttl-refresh", "10", "etcd://"], /must be greater than -ttl-refresh/],
    [["-deregister", "sometimes", "etcd://"], /-deregister: expected one of always, on-success/],
    [["-resync", "-3", "etcd://"], /-resync/],
    [["-resync", "1.5", "etcd://"], /-resync: expected a whole number/],
    [["-retry-attempts", "-2", "etcd://"], /-retry-attempts/],
    [["-ip", "10.0.0.300", "etcd://"], /-ip: expected an IPv4 or IPv6 address \(10\.0\.0\.5\), an interface name \(eth0\) or a CIDR range/],
    [["-ip", "10.0.0.0/33", "etcd://"], /-ip: "10\.0\.0\.0\/33" is not a CIDR range/],
    [["-ip", "fd00::/129", "etcd://"], /is not a CIDR range/],
    [["-ip", "eth 0", "etcd://"], /-ip: expected/],
    [["-ip", "a-name-longer-than-15", "etcd://"], /-ip: expected/],
    [["-ip", "fe80::zz", "etcd://"], /-ip: expected/],
    [["-hostname", "a:b", "etcd://"], /-hostname: expected a host name/],
    [["-hostname", "a/b", "etcd://"], /-hostname/],
    [["-http", "nowhere", "etcd://"], /-http/],
    [["-log-format", "xml"], /-log-format: expected one of text, json/],
    [["-bogus", "etcd://"], /Unknown flag "-bogus"/],
    [["-ip"], /-ip" needs a value/],
    [["-internal=maybe", "etcd://"], /-internal: expected true or false/],
    [["etcd://", "-ip", "10.0.0.5"], /Unexpected "-ip" after the registry URI "etcd:\/\/": flags go before/],
    [["etcd://x:2379", "local://", "etcd://x:2379/"], /Registry URI "etcd:\/\/x:2379\/" is given twice/],
    [["local://", "LOCAL://"], /given twice/],
  ])("%j", (argv, pattern) => fails(argv, pattern));

  test.each(["10.0.0.5", "fd00::5", "eth0", "br-1a2b3c4d5e6f", "enp0s31f6", "10.0.0.0/8", "198.18.0.0/15", "fd00::/64", "0.0.0.0/0"])(
    "-ip %s is accepted as given (an address, an interface or a range)",
    (ip) => {
      expect(load(["-ip", ip, "etcd://"]).ip).toBe(ip);
    },
  );

  test("-hostname and REGISTRATOR_HOSTNAME; the flag wins; default empty (the default rule)", () => {
    expect(load([]).hostname).toBe("");
    expect(loadConfig([], { REGISTRATOR_HOSTNAME: "docker-host-1" }).hostname).toBe("docker-host-1");
    expect(loadConfig(["-hostname", "x"], { REGISTRATOR_HOSTNAME: "docker-host-1" }).hostname).toBe("x");
  });

  test("valid ttl pair passes", () => {
    expect(load(["-ttl", "30", "-ttl-refresh", "10", "etcd://"]).ttl).toBe(30);
  });

  test("-http records whether it was given", () => {
    expect(load([]).httpExplicit).toBe(false);
    expect(load(["-http", "127.0.0.1:9999"]).httpExplicit).toBe(true);
    expect(load(["-http", ""]).http).toBe("");
  });
});

describe("taking traffic and networks: -health, -deregister-on-stop, -network", () => {
  test("defaults: health auto, deregister on stop, no network", () => {
    expect(load(["etcd://"])).toMatchObject({ health: "auto", "deregister-on-stop": true, network: "" });
  });
  test("Go syntax for each", () => {
    expect(load(["-health", "require", "etcd://"]).health).toBe("require");
    expect(load(["--health=ignore", "etcd://"]).health).toBe("ignore");
    expect(load(["-deregister-on-stop=false", "etcd://"])["deregister-on-stop"]).toBe(false);
    expect(load(["--deregister-on-stop=0", "etcd://"])["deregister-on-stop"]).toBe(false);
    expect(load(["-deregister-on-stop", "etcd://"])).toMatchObject({ "deregister-on-stop": true, uri: "etcd://" });
    expect(load(["-network", "backend_net", "-internal", "etcd://"])).toMatchObject({ network: "backend_net", internal: true });
    expect(load(["-network=my.net-1", "etcd://"]).network).toBe("my.net-1");
  });
  test("REGISTRATOR_HEALTH, REGISTRATOR_DEREGISTER_ON_STOP, REGISTRATOR_NETWORK; flags win", () => {
    const env = { REGISTRATOR_HEALTH: "ignore", REGISTRATOR_DEREGISTER_ON_STOP: "false", REGISTRATOR_NETWORK: "b" };
    expect(load(["etcd://"], env)).toMatchObject({ health: "ignore", "deregister-on-stop": false, network: "b" });
    expect(load(["-health", "require", "-deregister-on-stop=true", "-network", "a", "etcd://"], env)).toMatchObject({
      health: "require",
      "deregister-on-stop": true,
      network: "a",
    });
  });
  test.each<[string[], RegExp]>([
    [["-health", "sometimes", "etcd://"], /^Invalid value "sometimes" for flag -health: expected one of auto, require, ignore$/],
    [["-health", "Auto", "etcd://"], /-health: expected one of auto, require, ignore/],
    [["-deregister-on-stop=later", "etcd://"], /^Invalid value "later" for flag -deregister-on-stop: expected true or false$/],
    [["-network", "-internal", "etcd://"], /^Invalid value "-internal" for flag -network: expected a Docker network name/],
    [["-network", "a b", "etcd://"], /-network: expected a Docker network name/],
    [["-network", "a/b", "etcd://"], /-network/],
    [["-network"], /Flag "-network" needs a value/],
  ])("%j exits with one line", (argv, pattern) => fails(argv, pattern));
  test("a bad REGISTRATOR_HEALTH names the flag", () => fails(["etcd://"], /-health/, { REGISTRATOR_HEALTH: "x" }));
});

describe("-default-name", () => {
  test("image by default; container and compose; from REGISTRATOR_DEFAULT_NAME", () => {
    expect(load(["etcd://"])["default-name"]).toBe("image");
    expect(load(["-default-name", "container", "etcd://"])["default-name"]).toBe("container");
    expect(load(["--default-name=compose", "etcd://"])["default-name"]).toBe("compose");
    expect(load(["etcd://"], { REGISTRATOR_DEFAULT_NAME: "compose" })["default-name"]).toBe("compose");
  });
  test("anything else exits with one line naming the valid values", () =>
    fails(["-default-name", "label", "etcd://"], /^Invalid value "label" for flag -default-name: expected one of image, container, compose$/));
});

describe("-filter (repeatable)", () => {
  test("absent: no filters", () => {
    expect(load([]).filter).toEqual([]);
  });

  test("every occurrence is kept, in order, in every flag syntax", () => {
    const c = load(["-filter", "label=tier=web", "--filter=name=api", "-filter=image=^nginx", "consul://"]);
    expect(c.filter.map((f) => f.expr)).toEqual(["label=tier=web", "name=api", "image=^nginx"]);
    expect(c.uri).toBe("consul://");
  });

  test("REGISTRATOR_FILTER: one expression per line; the flag wins", () => {
    expect(load([], { REGISTRATOR_FILTER: "label=a\nnetwork=backend\n" }).filter.map((f) => f.expr)).toEqual(["label=a", "network=backend"]);
    expect(load(["-filter", "label=b"], { REGISTRATOR_FILTER: "label=a" }).filter.map((f) => f.expr)).toEqual(["label=b"]);
  });

  test.each([
    [["-filter", "tier=web"], /^Invalid value for flag -filter: "tier=web" is not a filter: expected label=KEY/],
    [["-filter", "label=a", "-filter", "name=("], /^Invalid value for flag -filter: "name=\(": "\(" is not a valid regular expression/],
    [["-filter", "network="], /^Invalid value for flag -filter: .*names no network/],
    [["-filter"], /Flag "-filter" needs a value/],
  ])("%j exits 2 naming the flag", (argv, message) => {
    fails(argv, message);
  });
});

describe("the flag table", () => {
  const filter: FlagSpec = {
    name: "match",
    kind: "list",
    default: [],
    hint: "expr",
    description: "A repeatable test flag",
    check: (s) => s.includes("="),
    expected: "key=value",
  };
  const table: FlagSpec[] = [...(FLAGS as readonly FlagSpec[]), filter];

  test("a repeatable flag collects every occurrence, in order, in every Go spelling", () => {
    const { flags, rest } = parseGoFlags(["-match", "a=1", "--match=b=2", "-internal", "-MATCH", "c=3", "consul://"], table);
    expect(flags.match).toEqual(["a=1", "b=2", "c=3"]);
    expect(rest).toEqual(["consul://"]);
    expect(flagsFromEnv({ REGISTRATOR_MATCH: "d=4" }, table)).toEqual({ match: ["d=4"] });
  });

  test("a repeatable flag checks each value and names the bad one", () => {
    const schema = flagSchema(filter);
    expect(schema.parse(["a=1", "b=2"])).toEqual(["a=1", "b=2"]);
    const r = schema.safeParse(["a=1", "nope"]);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('Invalid value "nope" for flag -match: expected key=value');
  });

  test("every row's default passes its own validation", () => {
    for (const f of FLAGS as readonly FlagSpec[]) expect(flagSchema(f).safeParse(f.default).success).toBe(true);
  });

  test("enum values and int bounds come from the row", () => {
    fails(["-log-level", "loud"], /^Invalid value "loud" for flag -log-level: expected one of debug, info, warn, error$/);
    fails(["-retry-interval", "0"], /^Invalid value "0" for flag -retry-interval: expected a whole number of milliseconds, 1 or more$/);
    fails(["-retry-attempts", "-2"], /^Invalid value "-2" for flag -retry-attempts: expected a whole number, -1 \(forever\) or more$/);
    fails(["-log-level"], /^Flag "-log-level" needs a value \(debug\|info\|warn\|error\)$/);
  });
});
