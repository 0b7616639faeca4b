import { describe, expect, test } from "bun:test";
import type { ContainerInspect } from "../../../src/docker/schema.ts";
import { type DeriveOptions, deriveServices } from "../../../src/services/derive.ts";
import { compileTags } from "../../../src/services/template.ts";
import { BRIDGE_IP, type ContainerSpec, USER_NET_IP, container, dualStack } from "../builders.ts";

const HOST_IP = "192.168.1.10";
const base: DeriveOptions = { hostname: "host1", defaultHostIp: HOST_IP, internal: false, explicit: false, allowScriptChecks: false };
const web = (spec: ContainerSpec = {}) => container({ ports: { "80/tcp": dualStack("8080") }, ...spec });
const derive = (c: ContainerInspect, o: Partial<DeriveOptions> = {}) => deriveServices(c, { ...base, ...o });
const pick = (c: ContainerInspect, o: Partial<DeriveOptions> = {}) =>
  derive(c, o).services.map((s) => ({ id: s.id, name: s.name, ip: s.ip, port: s.port }));

describe("a published port", () => {
  test("full service shape", () => {
    const c = web();
    const r = derive(c);
    expect(r).toEqual({
      services: [
        {
          id: "host1:web1:80",
          name: "nginx",
          ip: HOST_IP,
          port: 8080,
          protocol: "tcp",
          tags: [],
          attrs: {},
          checks: [],
          enableTagOverride: false,
          health: "auto",
          origin: { containerId: c.Id, containerName: "web1", exposedPort: 80, hostPort: "8080", hostIp: "0.0.0.0" },
          why: { address: "binding 0.0.0.0: this host's address", port: "binding HostPort", name: "image nginx:latest" },
        },
      ],
      ignored: [],
      warnings: [],
      notes: [],
    });
  });
  test("deterministic", () => {
    const c = web({ ports: { "443/tcp": dualStack("8443"), "80/tcp": dualStack("8080") } });
    expect(derive(c)).toEqual(derive(c));
  });
});

describe("ports", () => {
  test("unpublished exposed port is ignored with a reason", () => {
    const r = derive(container({ exposed: ["9000/tcp"] }));
    expect(r.services).toEqual([]);
    expect(r.ignored).toEqual([{ port: "9000/tcp", reason: "not published on the host (-internal registers exposed ports)" }]);
  });
  test("-internal: container IP and exposed port; unpublished ports qualify", () => {
    expect(pick(container({ exposed: ["9000/tcp"] }), { internal: true })).toEqual([{ id: "host1:web1:9000", name: "nginx", ip: BRIDGE_IP, port: 9000 }]);
    expect(pick(web(), { internal: true })).toEqual([{ id: "host1:web1:80", name: "nginx", ip: BRIDGE_IP, port: 80 }]);
  });
  test("host network: exposed ports count as published on the same port", () => {
    expect(pick(container({ networkMode: "host", exposed: ["9000/tcp"] }))).toEqual([{ id: "host1:web1:9000", name: "nginx", ip: HOST_IP, port: 9000 }]);
  });
  test("NetworkSettings.Ports overrides the exposed port", () => {
    expect(pick(web()).map((s) => s.port)).toEqual([8080]);
  });
  test("only the first binding is used", () => {
    const c = container({ ports: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "9000" }, { HostIp: "0.0.0.0", HostPort: "9001" }] } });
    expect(pick(c)).toEqual([{ id: "host1:web1:80", name: "nginx", ip: "127.0.0.1", port: 9000 }]);
  });
  test("dual-stack duplicates are one binding (IPv4 twin preferred)", () => {
    const c = container({ ports: { "80/tcp": [{ HostIp: "::", HostPort: "8080" }, { HostIp: "0.0.0.0", HostPort: "8080" }] } });
    const r = derive(c);
    expect(r.services).toHaveLength(1);
    expect(r.services[0]?.origin.hostIp).toBe("0.0.0.0");
    expect(r.services[0]?.name).toBe("nginx");
  });
  test("ports in sorted order, udp gets :udp and the udp tag", () => {
    const c = container({ ports: { "443/tcp": dualStack("443"), "80/tcp": dualStack("80"), "53/udp": dualStack("53"), "53/tcp": dualStack("53") } });
    const r = derive(c);
    expect(r.services.map((s) => [s.id, s.name, s.protocol, s.tags])).toEqual([
      ["host1:web1:53", "nginx-53", "tcp", []],
      ["host1:web1:53:udp", "nginx-53", "udp", ["udp"]],
      ["host1:web1:80", "nginx-80", "tcp", []],
      ["host1:web1:443", "nginx-443", "tcp", []],
    ]);
  });
  test("unsupported protocol is ignored", () => {
    const r = derive(container({ ports: { "9/sctp": dualStack("9") } }));
    expect(r.services).toEqual([]);
    expect(r.ignored).toEqual([{ port: "9/sctp", reason: 'protocol "sctp" is not supported (tcp, udp)' }]);
  });
});

describe("names", () => {
  const images: Array<[string, string]> = [
    ["nginx", "nginx"],
    ["nginx:1.25", "nginx"],
    ["library/nginx:latest", "nginx"],
    ["registry:5000/team/app:1.2", "app"],
    ["registry:5000/team/app", "app"],
    ["app@sha256:0123abcd", "app"], // registrator: "app@sha256"
    ["reg.io/app:1.0@sha256:0123abcd", "app"],
  ];
  for (const [image, name] of images) test(`image ${image} → ${name}`, () => expect(pick(web({ image }))[0]?.name).toBe(name));

  const two = { "80/tcp": dualStack("8080"), "443/tcp": dualStack("8443") };
  test("-<port> suffix when more than one port qualifies", () => {
    expect(pick(container({ ports: two })).map((s) => s.name)).toEqual(["nginx-80", "nginx-443"]);
  });
  test("global SERVICE_NAME also gets the suffix", () => {
    expect(pick(container({ ports: two, env: { SERVICE_NAME: "api" } })).map((s) => s.name)).toEqual(["api-80", "api-443"]);
  });
  test("a per-port name gets no suffix", () => {
    const c = container({ ports: two, labels: { SERVICE_443_NAME: "secure" } });
    expect(pick(c).map((s) => s.name)).toEqual(["nginx-80", "secure"]);
  });
  test("the count is taken before per-port ignores", () => {
    expect(pick(container({ ports: two, env: { SERVICE_443_IGNORE: "1" } })).map((s) => s.name)).toEqual(["nginx-80"]);
  });
  test("unpublished ports do not count (without -internal)", () => {
    expect(pick(container({ ports: { "80/tcp": dualStack("8080") }, exposed: ["9000/tcp"] })).map((s) => s.name)).toEqual(["nginx"]);
  });
});

describe("IDs", () => {
  test("SERVICE_ID replaces the ID", () => {
    expect(pick(web({ env: { SERVICE_ID: "web-a" } }))[0]?.id).toBe("web-a");
  });
  test("SERVICE_ID keeps :udp for UDP", () => {
    expect(pick(container({ ports: { "53/udp": dualStack("53") }, env: { SERVICE_ID: "dns-a" } }))[0]?.id).toBe("dns-a:udp");
  });
  test("a duplicate ID within a container skips the later port", () => {
    const r = derive(container({ ports: { "80/tcp": dualStack("80"), "81/tcp": dualStack("81") }, env: { SERVICE_ID: "same" } }));
    expect(r.services.map((s) => s.port)).toEqual([80]);
    expect(r.warnings).toEqual([
      'Skipped port 81/tcp of container "web1": the service ID "same" is already used by another port of this container (set SERVICE_81_ID)',
    ]);
  });
});

describe("unsafe names and IDs skip the port with a warning", () => {
  const cases: Array<[string, ContainerSpec, string]> = [
    ["SERVICE_NAME=../../x", { env: { SERVICE_NAME: "../../x" } }, 'SERVICE_NAME gives the service name "../../x", which is unsafe: it contains "/"'],
    ["name with /", { labels: { SERVICE_NAME: "a/b" } }, 'SERVICE_NAME gives the service name "a/b"'],
    ["per-port name with control char", { env: { SERVICE_80_NAME: "a\tb" } }, 'SERVICE_80_NAME gives the service name "a\\tb", which is unsafe: it contains the control character U+0009'],
    ["name ..", { env: { SERVICE_80_NAME: ".." } }, '"..\" is a dot path segment'],
    ["ID with /", { env: { SERVICE_ID: "x/../../y" } }, 'SERVICE_ID gives the service ID "x/../../y"'],
    ["ID with backslash", { env: { SERVICE_ID: "..\\x" } }, 'it contains "\\"'],
    ["empty image name", { image: null }, 'Config.Image gives the service name "", which is unsafe: it is empty'],
    ["image of only a tag", { image: ":tag" }, "it is empty"],
  ];
  for (const [name, spec, warning] of cases) {
    test(name, () => {
      const r = derive(web(spec));
      expect(r.services).toEqual([]);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toStartWith('Skipped port 80/tcp of container "web1": ');
      expect(r.warnings[0]).toContain(warning);
      expect(r.warnings[0]).toContain("(valid: a non-empty text");
    });
  }
  test("the rest of the container still registers", () => {
    const c = container({ ports: { "80/tcp": dualStack("80"), "81/tcp": dualStack("81") }, env: { SERVICE_81_NAME: "../x" } });
    expect(pick(c)).toEqual([{ id: "host1:web1:80", name: "nginx-80", ip: HOST_IP, port: 80 }]);
  });
});

describe("ignore and -explicit", () => {
  for (const v of ["true", "1", "yes", "anything"]) {
    test(`SERVICE_IGNORE=${v} ignores`, () => {
      const r = derive(web({ env: { SERVICE_IGNORE: v } }));
      expect(r.services).toEqual([]);
      expect(r.ignored).toEqual([{ port: "80/tcp", reason: `SERVICE_IGNORE is "${v}"` }]);
    });
  }
  for (const v of ["false", "0", "no", "off", "", "FALSE"]) {
    test(`SERVICE_IGNORE=${JSON.stringify(v)} does not ignore (fix)`, () => expect(pick(web({ labels: { SERVICE_IGNORE: v } }))).toHaveLength(1));
  }
  test("per-port ignore", () => {
    const r = derive(container({ ports: { "80/tcp": dualStack("80"), "81/tcp": dualStack("81") }, labels: { SERVICE_81_IGNORE: "true" } }));
    expect(r.services.map((s) => s.name)).toEqual(["nginx-80"]);
    expect(r.ignored).toEqual([{ port: "81/tcp", reason: 'SERVICE_81_IGNORE is "true"' }]);
  });
  test("-explicit without a name ignores", () => {
    const r = derive(web(), { explicit: true });
    expect(r.services).toEqual([]);
    expect(r.ignored).toEqual([{ port: "80/tcp", reason: "-explicit is set and SERVICE_NAME / SERVICE_80_NAME is not" }]);
  });
  test("-explicit with SERVICE_NAME registers", () => {
    expect(pick(web({ env: { SERVICE_NAME: "api" } }), { explicit: true })).toEqual([{ id: "host1:web1:80", name: "api", ip: HOST_IP, port: 8080 }]);
  });
  test("-explicit with a per-port name registers that port only", () => {
    const c = container({ ports: { "80/tcp": dualStack("80"), "81/tcp": dualStack("81") }, labels: { SERVICE_81_NAME: "admin" } });
    expect(pick(c, { explicit: true }).map((s) => s.name)).toEqual(["admin"]);
  });
});

describe("tags, attrs, tag override, checks", () => {
  test("SERVICE_TAGS in written order, then -tags, then udp; deduplicated", () => {
    const c = container({ ports: { "53/udp": dualStack("53") }, env: { SERVICE_TAGS: "b, a,b,x\\,y" } });
    expect(derive(c, { tags: () => ["static", "a"] }).services[0]?.tags).toEqual(["b", "a", "x,y", "static", "udp"]);
  });
  test("-tags template tags", () => {
    const tags = compileTags("env-{{ index .Config.Labels \"env\" }},{{ .Config.Hostname }}");
    expect(derive(web({ hostname: "h9", labels: { env: "prod" } }), { tags }).services[0]?.tags).toEqual(["env-prod", "h9"]);
  });
  test("a template that fails at runtime: warning, no template tags, service kept", () => {
    const tags = compileTags("{{ index .Config.Env 5 }}");
    const r = derive(web({ env: { SERVICE_TAGS: "own" } }), { tags });
    expect(r.services[0]?.tags).toEqual(["own"]);
    expect(r.warnings).toEqual(['No -tags template tags for container "web1": -tags template: index: index 5 out of range (length 1)']);
  });
  test("attrs: every non-reserved key with its raw value", () => {
    const c = web({ env: { SERVICE_NAME: "api", SERVICE_ID: "i", SERVICE_TAGS: "t", SERVICE_IGNORE: "no", SERVICE_REGION: "EU", SERVICE_CHECK_TCP: "true" }, labels: { SERVICE_80_ENABLE_TAG_OVERRIDE: "yes" } });
    const s = derive(c).services[0];
    expect(s?.attrs).toEqual({ check_tcp: "true", enable_tag_override: "yes", region: "EU" });
    expect(s?.enableTagOverride).toBe(true);
  });
  test("enable_tag_override off values", () => {
    expect(derive(web({ env: { SERVICE_ENABLE_TAG_OVERRIDE: "off" } })).services[0]?.enableTagOverride).toBe(false);
  });
  test("checks use the service address; check warnings are passed on", () => {
    const r = derive(web({ env: { SERVICE_CHECK_HTTP: "/health", SERVICE_CHECK_2_SCRIPT: "true" } }));
    expect(r.services[0]?.checks).toEqual([{ kind: "http", target: `http://${HOST_IP}:8080/health`, interval: "10s" }]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("SERVICE_CHECK_2_SCRIPT");
  });
  test("CHECK_CMD uses the 12-char container ID and exposed port", () => {
    const c = web({ env: { SERVICE_CHECK_CMD: "/ok" } });
    expect(derive(c, { allowScriptChecks: true }).services[0]?.checks[0]?.args).toEqual(["check-cmd", c.Id.slice(0, 12), "80", "/ok"]);
  });
});

describe("IP rules, in order, later overriding earlier", () => {
  test("specific binding HostIp", () => expect(pick(container({ ports: { "80/tcp": [{ HostIp: "10.9.9.9", HostPort: "80" }] } }))[0]?.ip).toBe("10.9.9.9"));
  test("wildcard binding → defaultHostIp", () => expect(pick(container({ ports: { "80/tcp": [{ HostIp: "", HostPort: "80" }] } }))[0]?.ip).toBe(HOST_IP));
  test(":: only → defaultHostIp", () => expect(pick(container({ ports: { "80/tcp": [{ HostIp: "::", HostPort: "80" }] } }))[0]?.ip).toBe(HOST_IP));
  test("user-defined network → its container IP (port stays published)", () => {
    expect(pick(web({ networkMode: "backend" }))).toEqual([{ id: "host1:web1:80", name: "nginx", ip: USER_NET_IP, port: 8080 }]);
  });
  test("-ip beats binding and user-defined network", () => {
    expect(pick(web(), { hostIp: "10.1.1.1" })[0]?.ip).toBe("10.1.1.1");
    expect(pick(web({ networkMode: "backend" }), { hostIp: "10.1.1.1" })[0]?.ip).toBe("10.1.1.1");
  });
  test("-internal beats -ip", () => expect(pick(web(), { internal: true, hostIp: "10.1.1.1" })[0]?.ip).toBe(BRIDGE_IP));
  test("-useIpFromLabel beats -ip; CIDR suffix dropped", () => {
    const c = web({ labels: { "net.ip": "10.5.0.7/24" } });
    expect(pick(c, { hostIp: "10.1.1.1", useIpFromLabel: "net.ip" })[0]?.ip).toBe("10.5.0.7");
    expect(pick(c, { internal: true, useIpFromLabel: "net.ip" })[0]?.ip).toBe("10.5.0.7");
  });
  test("-useIpFromLabel: absent label keeps the earlier result; bad value warns", () => {
    expect(pick(web(), { useIpFromLabel: "net.ip" })[0]?.ip).toBe(HOST_IP);
    const r = derive(web({ labels: { "net.ip": "not-an-ip" } }), { useIpFromLabel: "net.ip" });
    expect(r.services[0]?.ip).toBe(HOST_IP);
    expect(r.warnings[0]).toContain('Ignored label "net.ip" of container "web1" for -useIpFromLabel: "not-an-ip" is not an IP address');
  });
  test("container:<id> mode → the peer's IP beats everything", () => {
    const peer = container({ name: "pod", networkMode: "backend" });
    const c = container({ networkMode: `container:${peer.Id}`, exposed: ["80/tcp"], labels: { "net.ip": "10.5.0.7" } });
    expect(pick(c, { peer, hostIp: "10.1.1.1", useIpFromLabel: "net.ip" })[0]?.ip).toBe(USER_NET_IP);
  });
  test("container:<id> mode without a peer warns", () => {
    const r = derive(container({ networkMode: "container:abc", exposed: ["80/tcp"] }));
    expect(r.services[0]?.ip).toBe(HOST_IP);
    expect(r.warnings).toEqual(['No address from the network peer of container "web1" (container:abc): it was not inspected or has no IP']);
  });
  test("several networks: NetworkMode's network first", () => {
    const c = web({ networkMode: "backend", networks: { frontend: { IPAddress: "10.0.1.2" }, backend: { IPAddress: "10.0.2.2" } } });
    const r = derive(c, { internal: true });
    expect(r.services[0]?.ip).toBe("10.0.2.2");
    expect(r.notes).toEqual([]);
  });
  test("several networks, none named by NetworkMode: first by name, noted", () => {
    const c = web({ networks: { zeta: { IPAddress: "10.0.9.9" }, alpha: { IPAddress: "10.0.1.1" } } });
    const r = derive(c, { internal: true });
    expect(r.services[0]?.ip).toBe("10.0.1.1");
    expect(r.notes).toEqual(['Container "web1" has addresses on networks "alpha", "zeta": using "alpha" (the first by name)']);
  });
  test("IPv6 where it is the only address; check target bracketed", () => {
    const c = web({ networkMode: "v6net", networks: { v6net: { GlobalIPv6Address: "fd00::5" } }, env: { SERVICE_CHECK_TCP: "1" } });
    const s = derive(c, { internal: true }).services[0];
    expect(s?.ip).toBe("fd00::5");
    expect(s?.checks[0]?.target).toBe("[fd00::5]:80");
  });
  test("IPv4 preferred when both exist", () => {
    const c = web({ networkMode: "dual", networks: { dual: { IPAddress: "10.0.0.3", GlobalIPv6Address: "fd00::3" } } });
    expect(pick(c, { internal: true })[0]?.ip).toBe("10.0.0.3");
  });
  test("host network with -internal uses the host address", () => {
    expect(pick(container({ networkMode: "host", exposed: ["9000/tcp"] }), { internal: true })[0]).toEqual({ id: "host1:web1:9000", name: "nginx", ip: HOST_IP, port: 9000 });
  });
  test("no address at all: port skipped with a warning", () => {
    const r = derive(web(), { defaultHostIp: undefined });
    expect(r.services).toEqual([]);
    expect(r.warnings).toEqual(['Skipped port 80/tcp of container "web1": no address could be determined (set -ip, or attach the container to a network)']);
  });
});

describe("a container with thousands of ports and keys", () => {
  test("every port gets its own keys and the shared ones (metadata parsed once)", () => {
    const ports: ContainerSpec["ports"] = {};
    const labels: Record<string, string> = { SERVICE_TAGS: "a,b", SERVICE_REGION: "eu" };
    for (let i = 0; i < 2000; i++) {
      ports[`${10000 + i}/tcp`] = [{ HostIp: "0.0.0.0", HostPort: String(20000 + i) }];
      if (i % 2 === 0) labels[`SERVICE_${10000 + i}_NAME`] = `svc${i}`;
    }
    const r = derive(container({ ports, labels }));
    expect(r.services.length).toBe(2000);
    expect(r.services[0]).toMatchObject({ name: "svc0", port: 20000, tags: ["a", "b"], attrs: { region: "eu" } });
    expect(r.services[1]).toMatchObject({ name: "nginx-10001", port: 20001, tags: ["a", "b"], attrs: { region: "eu" } });
    expect(r.services[1998]?.name).toBe("svc1998");
  });
});

describe("health policy (SERVICE_HEALTH, SERVICE_<port>_HEALTH, -health)", () => {
  const two = (spec: ContainerSpec = {}) => web({ ports: { "80/tcp": dualStack("8080"), "443/tcp": dualStack("8443") }, ...spec });
  const modes = (c: ContainerInspect, o: Partial<DeriveOptions> = {}) => derive(c, o).services.map((s) => s.health);
  test("default auto; -health sets the default", () => {
    expect(modes(two())).toEqual(["auto", "auto"]);
    expect(modes(two(), { health: "ignore" })).toEqual(["ignore", "ignore"]);
  });
  test("SERVICE_HEALTH beats -health; the per-port key beats both; case and spaces do not matter", () => {
    expect(modes(two({ env: { SERVICE_HEALTH: "Require", SERVICE_443_HEALTH: " ignore " } }), { health: "auto" })).toEqual(["require", "ignore"]);
  });
  test("empty value: the default applies, no warning", () => {
    const r = derive(two({ env: { SERVICE_HEALTH: "" } }), { health: "require" });
    expect(r.services.map((s) => s.health)).toEqual(["require", "require"]);
    expect(r.warnings).toEqual([]);
  });
  test("a bad value: one warning naming container, key and valid values; the -health default applies", () => {
    const r = derive(two({ labels: { SERVICE_HEALTH: "sometimes" } }), { health: "require" });
    expect(r.services.map((s) => s.health)).toEqual(["require", "require"]);
    expect(r.warnings).toEqual(['Ignored SERVICE_HEALTH="sometimes" of container "web1": expected one of auto, require, ignore; the -health default "require" applies']);
  });
  test("health is not an attribute", () => {
    expect(derive(web({ env: { SERVICE_HEALTH: "ignore", SERVICE_NETWORK: "bridge", SERVICE_IP_FAMILY: "ipv4" } })).services[0]?.attrs).toEqual({});
  });
});

describe("per-protocol keys SERVICE_<port>_<proto>_<key>", () => {
  const dns = (env: Record<string, string>) => container({ ports: { "53/tcp": dualStack("53"), "53/udp": dualStack("53") }, env });
  test("TCP and UDP on one port get different names (#244)", () => {
    const r = derive(dns({ SERVICE_53_NAME: "dns", SERVICE_53_UDP_NAME: "dns-udp" }));
    expect(r.services.map((s) => [s.id, s.name, s.protocol])).toEqual([
      ["host1:web1:53", "dns", "tcp"],
      ["host1:web1:53:udp", "dns-udp", "udp"],
    ]);
  });
  test("every key works per protocol and wins over the per-port key for that protocol only", () => {
    const r = derive(
      dns({
        SERVICE_TAGS: "g",
        SERVICE_53_TAGS: "p",
        SERVICE_53_TCP_TAGS: "t",
        SERVICE_53_UDP_ID: "resolver",
        SERVICE_53_TCP_CHECK_TCP: "true",
        SERVICE_53_udp_region: "eu",
        SERVICE_53_UDP_HEALTH: "ignore",
      }),
    );
    const [tcp, udp] = r.services;
    expect(tcp).toMatchObject({ id: "host1:web1:53", name: "nginx-53", tags: ["t"], attrs: { check_tcp: "true" }, health: "auto" });
    expect(tcp?.checks.map((c) => c.kind)).toEqual(["tcp"]);
    expect(udp).toMatchObject({ id: "resolver:udp", name: "nginx-53", tags: ["p", "udp"], attrs: { region: "eu" }, health: "ignore" });
    expect(udp?.checks).toEqual([]);
  });
  test("ignore per protocol", () => {
    const r = derive(dns({ SERVICE_53_UDP_IGNORE: "true" }));
    expect(r.services.map((s) => s.protocol)).toEqual(["tcp"]);
    expect(r.ignored).toEqual([{ port: "53/udp", reason: 'SERVICE_53_UDP_IGNORE is "true"' }]);
  });
  test("UDP_ is a protocol only right after SERVICE_<port>_: global keys and a bare SERVICE_<port>_UDP are attributes", () => {
    const r = derive(dns({ SERVICE_UDP_SOMETHING: "x", SERVICE_53_UDP: "y", SERVICE_TCP_NAME: "z" }));
    expect(r.services.map((s) => s.name)).toEqual(["nginx-53", "nginx-53"]);
    expect(r.services[0]?.attrs).toEqual({ tcp_name: "z", udp: "y", udp_something: "x" });
  });
  test("-explicit is satisfied by a per-protocol name", () => {
    const r = derive(dns({ SERVICE_53_UDP_NAME: "dns-udp" }), { explicit: true });
    expect(r.services.map((s) => s.name)).toEqual(["dns-udp"]);
  });
});

describe("networks (-network, SERVICE_NETWORK, SERVICE_<port>_NETWORK)", () => {
  const nets = { alpha: { IPAddress: "10.0.1.5" }, beta: { IPAddress: "10.0.2.5" } };
  const multi = (spec: ContainerSpec = {}) => web({ networkMode: "alpha", networks: nets, ...spec });
  test("-internal -network picks that network's IP", () => {
    expect(pick(multi(), { internal: true, network: "beta" })[0]?.ip).toBe("10.0.2.5");
    expect(derive(multi(), { internal: true, network: "beta" }).notes).toEqual([]);
  });
  test("user-defined network without -internal: the chosen network's IP, host port kept", () => {
    expect(pick(multi(), { network: "beta" })[0]).toMatchObject({ ip: "10.0.2.5", port: 8080 });
  });
  test("SERVICE_NETWORK beats -network; the per-port key beats both", () => {
    const c = multi({ ports: { "80/tcp": dualStack("8080"), "443/tcp": dualStack("8443") }, env: { SERVICE_NETWORK: "alpha", SERVICE_443_NETWORK: "beta" } });
    expect(pick(c, { internal: true, network: "beta" }).map((s) => s.ip)).toEqual(["10.0.1.5", "10.0.2.5"]);
  });
  test("a network the container lacks: those ports skipped (ignored + one warning), the rest registered", () => {
    const c = multi({ ports: { "80/tcp": dualStack("8080"), "81/tcp": dualStack("8081"), "443/tcp": dualStack("8443") }, env: { SERVICE_443_NETWORK: "alpha" } });
    const r = derive(c, { internal: true, network: "gamma" });
    expect(r.services.map((s) => [s.port, s.ip])).toEqual([[443, "10.0.1.5"]]);
    const reason = 'network "gamma" not attached (has: alpha, beta)';
    expect(r.ignored).toEqual([
      { port: "80/tcp", reason },
      { port: "81/tcp", reason },
    ]);
    expect(r.warnings).toEqual([
      `Skipped ports 80/tcp, 81/tcp of container "web1": ${reason}; connect it to that network, or choose another with SERVICE_NETWORK / -network`,
    ]);
  });
  test("published ports on the default bridge keep the host IP rules", () => {
    expect(pick(web(), { network: "gamma" })[0]?.ip).toBe(HOST_IP);
    expect(pick(web(), { network: "gamma", hostIp: "10.1.1.1" })[0]?.ip).toBe("10.1.1.1");
  });
  test("-ip beats a user-defined network, so the network choice does not apply", () => {
    expect(pick(multi(), { network: "gamma", hostIp: "10.1.1.1" })[0]?.ip).toBe("10.1.1.1");
  });
  test("with -internal the network choice wins over -ip, also when not attached", () => {
    expect(derive(multi(), { internal: true, network: "gamma", hostIp: "10.1.1.1" }).services).toEqual([]);
  });
  test("container:<id> mode: the chosen network of the peer", () => {
    const peer = container({ name: "pod", networkMode: "alpha", networks: nets });
    const c = container({ networkMode: `container:${peer.Id}`, exposed: ["80/tcp"] });
    expect(pick(c, { peer, network: "beta" })[0]?.ip).toBe("10.0.2.5");
  });
  test("host network mode: the host's address, the network choice does not apply", () => {
    expect(pick(container({ networkMode: "host", exposed: ["9000/tcp"] }), { internal: true, network: "gamma" })[0]?.ip).toBe(HOST_IP);
  });
  test("a network with no address for the container skips the port", () => {
    const r = derive(web({ networkMode: "alpha", networks: { alpha: { IPAddress: "10.0.1.5" }, empty: {} } }), { internal: true, network: "empty" });
    expect(r.ignored).toEqual([{ port: "80/tcp", reason: 'network "empty" gives the container no address' }]);
  });
});

describe("IPv6 (SERVICE_IP_FAMILY)", () => {
  const dual = (env: Record<string, string> = {}) => web({ networkMode: "dual", networks: { dual: { IPAddress: "10.0.0.3", GlobalIPv6Address: "fd00::3" } }, env });
  test("ipv6 picks the IPv6 address; check targets bracketed", () => {
    const s = derive(dual({ SERVICE_IP_FAMILY: "ipv6", SERVICE_CHECK_HTTP: "/health" }), { internal: true }).services[0];
    expect(s?.ip).toBe("fd00::3");
    expect(s?.checks[0]?.target).toBe("http://[fd00::3]:80/health");
  });
  test("ipv6 with a chosen network", () => {
    expect(pick(dual({ SERVICE_IP_FAMILY: "IPv6" }), { internal: true, network: "dual" })[0]?.ip).toBe("fd00::3");
  });
  test("ipv4 is the default", () => expect(pick(dual({ SERVICE_IP_FAMILY: "ipv4" }), { internal: true })[0]?.ip).toBe("10.0.0.3"));
  test("ipv6 where the network has none: the port is skipped", () => {
    const r = derive(web({ networkMode: "v4", networks: { v4: { IPAddress: "10.0.0.4" } }, env: { SERVICE_IP_FAMILY: "ipv6" } }), { internal: true });
    expect(r.services).toEqual([]);
    expect(r.ignored).toEqual([{ port: "80/tcp", reason: 'no IPv6 address (SERVICE_IP_FAMILY is "ipv6")' }]);
  });
  test("a bad family: one warning, the default applies", () => {
    const r = derive(dual({ SERVICE_IP_FAMILY: "v6" }), { internal: true });
    expect(r.services[0]?.ip).toBe("10.0.0.3");
    expect(r.warnings).toEqual([
      'Ignored SERVICE_IP_FAMILY="v6" of container "web1": expected one of ipv4, ipv6; the IPv4 address is used, or the IPv6 one where there is no IPv4',
    ]);
  });
});

describe("port ranges", () => {
  test("SERVICE_<from>-<to>_NAME names every port in the range; the single port's key wins; others keep the group name", () => {
    const c = container({
      image: "app:1",
      env: { "SERVICE_8000-8002_NAME": "worker", SERVICE_8002_NAME: "admin", "SERVICE_8000-8002_TAGS": "pool" },
      exposed: ["8000/tcp", "8001/tcp", "8002/tcp", "9000/tcp"],
    });
    const r = derive(c, { internal: true });
    expect(r.services.map((s) => [s.id, s.name, s.tags])).toEqual([
      ["host1:web1:8000", "worker", ["pool"]],
      ["host1:web1:8001", "worker", ["pool"]],
      ["host1:web1:8002", "admin", ["pool"]],
      ["host1:web1:9000", "app-9000", []],
    ]);
    expect(r.warnings).toEqual([]);
  });

  test("a range that holds no port: one warning naming the key, the ports register without it", () => {
    const c = container({ image: "app:1", env: { "SERVICE_9-1_NAME": "x" }, exposed: ["5/tcp"] });
    const r = derive(c, { internal: true });
    expect(r.services.map((s) => s.name)).toEqual(["app"]);
    expect(r.warnings).toEqual([`Ignored SERVICE_9-1_NAME="x" of container "web1": the port range 9-1 holds no port (expected <from>-<to> with 1 <= from <= to <= 65535)`]);
  });
});

describe("SERVICE_WEIGHT_PASSING / SERVICE_WEIGHT_WARNING", () => {
  const weights = (env: Record<string, string>) => {
    const r = derive(web({ env }));
    return { weights: r.services[0]?.weights, attrs: r.services[0]?.attrs, warnings: r.warnings };
  };
  test.each<[Record<string, string>, { passing: number; warning: number } | undefined]>([
    [{}, undefined],
    [{ SERVICE_WEIGHT_PASSING: "10", SERVICE_WEIGHT_WARNING: "0" }, { passing: 10, warning: 0 }],
    [{ SERVICE_WEIGHT_PASSING: "10" }, { passing: 10, warning: 1 }],
    [{ SERVICE_WEIGHT_WARNING: "5" }, { passing: 1, warning: 5 }],
    [{ SERVICE_80_WEIGHT_PASSING: "65535" }, { passing: 65535, warning: 1 }],
  ])("%j → %j, not attributes", (env, want) => {
    const r = weights(env);
    expect(r.weights).toEqual(want);
    expect(r.attrs).toEqual({});
    expect(r.warnings).toEqual([]);
  });
  test.each([
    [{ SERVICE_WEIGHT_PASSING: "0", SERVICE_WEIGHT_WARNING: "2" }, { passing: 1, warning: 2 }, 'Ignored SERVICE_WEIGHT_PASSING="0" of container "web1": expected a whole number from 1 to 65535'],
    [{ SERVICE_WEIGHT_PASSING: "65536" }, undefined, 'SERVICE_WEIGHT_PASSING="65536"'],
    [{ SERVICE_WEIGHT_WARNING: "-1" }, undefined, 'Ignored SERVICE_WEIGHT_WARNING="-1" of container "web1": expected a whole number from 0 to 65535'],
    [{ SERVICE_WEIGHT_WARNING: "x", SERVICE_WEIGHT_PASSING: "3" }, { passing: 3, warning: 1 }, 'SERVICE_WEIGHT_WARNING="x"'],
  ])("%j: the bad one is dropped with one warning", (env, want, warning) => {
    const r = weights(env);
    expect(r.weights).toEqual(want);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain(warning);
  });
});
