// Per-container overrides of the address, port and name rules (parity "Addresses, ports, names and
// the host, per container"): SERVICE_IP, SERVICE_INTERNAL, SERVICE_EXPOSE, -default-name, images
// named by ID, and the provenance (Service.why) each service keeps.
import { describe, expect, test } from "bun:test";
import type { ContainerInspect } from "../../../src/docker/schema.ts";
import { imageIdOf } from "../../../src/services/address.ts";
import { type DeriveOptions, deriveServices, parseExpose } from "../../../src/services/derive.ts";
import { attributes, containerMetadata } from "../../../src/services/metadata.ts";
import { BRIDGE_IP, type ContainerSpec, USER_NET_IP, container, dualStack } from "../builders.ts";

const HOST_IP = "192.168.1.10";
const base: DeriveOptions = { hostname: "host1", defaultHostIp: HOST_IP, internal: false, explicit: false, allowScriptChecks: false };
const derive = (c: ContainerInspect, o: Partial<DeriveOptions> = {}) => deriveServices(c, { ...base, ...o });
const web = (spec: ContainerSpec = {}) => container({ ports: { "80/tcp": dualStack("8080") }, ...spec });
const two = (spec: ContainerSpec = {}) => container({ ports: { "80/tcp": dualStack("8080"), "443/tcp": dualStack("8443") }, ...spec });
const peer = container({ name: "pod", networkMode: "podnet", networks: { podnet: { IPAddress: "10.9.9.9" } } });

describe("SERVICE_IP beats every IP rule", () => {
  // [rule, container, options, the address without SERVICE_IP]
  const rules: Array<[string, ContainerInspect, Partial<DeriveOptions>, string]> = [
    ["binding 0.0.0.0 (this host's address)", web(), {}, HOST_IP],
    ["binding HostIp", container({ ports: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }] } }), {}, "127.0.0.1"],
    ["-ip", web(), { hostIp: "10.1.1.1" }, "10.1.1.1"],
    ["-internal", web(), { internal: true }, BRIDGE_IP],
    ["user-defined network", web({ networkMode: "backend" }), {}, USER_NET_IP],
    ["-useIpFromLabel", web({ labels: { addr: "10.2.2.2/24" } }), { useIpFromLabel: "addr" }, "10.2.2.2"],
    ["container: network mode", container({ networkMode: `container:${peer.Id}`, exposed: ["80/tcp"] }), { peer }, "10.9.9.9"],
    ["-network not attached (the port would be skipped)", web({ networkMode: "backend" }), { internal: true, network: "other" }, ""],
    ["-internal on the host network", container({ networkMode: "host", exposed: ["80/tcp"] }), { internal: true, hostIp: "10.1.1.1" }, "10.1.1.1"],
  ];
  for (const [rule, c, opts, without] of rules) {
    test(`over ${rule}`, () => {
      expect(derive(c, opts).services.map((s) => s.ip)).toEqual(without ? [without] : []);
      const withIp = { ...c, Config: { ...c.Config, Env: ["SERVICE_IP=10.7.7.7"] } } as ContainerInspect;
      const r = derive(withIp, opts);
      expect(r.services.map((s) => [s.ip, s.why?.address])).toEqual([["10.7.7.7", "SERVICE_IP"]]);
      expect(r.warnings).toEqual([]);
    });
  }

  test("per port beats per container; the port keeps its own rule", () => {
    const c = two({ env: { SERVICE_IP: "10.7.7.7", SERVICE_443_IP: "fd00::7" } });
    expect(derive(c, { hostIp: "10.1.1.1" }).services.map((s) => [s.port, s.ip, s.why?.address])).toEqual([
      [8080, "10.7.7.7", "SERVICE_IP"],
      [8443, "fd00::7", "SERVICE_443_IP"],
    ]);
  });
  test("a label beats an env var; brackets around an IPv6 address are accepted", () => {
    expect(derive(web({ env: { SERVICE_IP: "10.7.7.7" }, labels: { SERVICE_IP: "[fd00::8]" } })).services[0]?.ip).toBe("fd00::8");
  });
  test("the port stays the published one (or the exposed one with -internal)", () => {
    expect(derive(web({ env: { SERVICE_IP: "10.7.7.7" } })).services[0]?.port).toBe(8080);
    expect(derive(web({ env: { SERVICE_IP: "10.7.7.7" } }), { internal: true }).services[0]?.port).toBe(80);
  });
  test("checks target the SERVICE_IP address", () => {
    expect(derive(web({ env: { SERVICE_IP: "10.7.7.7", SERVICE_CHECK_TCP: "true" } })).services[0]?.checks[0]?.target).toBe("10.7.7.7:8080");
  });
  for (const bad of ["eth0", "10.0.0.256", "10.0.0.5/24", "example.com", "1.2.3"]) {
    test(`not an IP (${bad}): one warning naming container and key, the normal rules apply`, () => {
      const r = derive(two({ env: { SERVICE_IP: bad } }), { hostIp: "10.1.1.1" });
      expect(r.services.map((s) => [s.ip, s.why?.address])).toEqual([
        ["10.1.1.1", "-ip → 10.1.1.1"],
        ["10.1.1.1", "-ip → 10.1.1.1"],
      ]);
      expect(r.warnings).toEqual([`Ignored SERVICE_IP=${JSON.stringify(bad)} of container "web1": not an IP address (e.g. 10.0.0.5 or fd00::5); the other address rules apply`]);
    });
  }
  test("an empty value is no SERVICE_IP", () => {
    const r = derive(web({ env: { SERVICE_IP: " " } }));
    expect([r.services[0]?.ip, r.warnings]).toEqual([HOST_IP, []]);
  });
  test("reserved: ip, internal and expose are not attributes", () => {
    const md = containerMetadata(web({ env: { SERVICE_IP: "10.7.7.7", SERVICE_INTERNAL: "1", SERVICE_EXPOSE: "9", SERVICE_OWNER: "me" } })).forPort(80);
    expect(attributes(md.meta)).toEqual({ owner: "me" });
  });
});

describe("SERVICE_INTERNAL: -internal per container or port, both ways", () => {
  // [what, env, -internal, expected [port, ip, port why] per registered service, ignored ports]
  const cases: Array<[string, Record<string, string>, boolean, Array<[number, string, string]>, string[]]> = [
    ["neither: published ports", {}, false, [[8080, HOST_IP, "binding HostPort"]], ["9000/tcp"]],
    ["flag only", {}, true, [[80, BRIDGE_IP, "exposed port, -internal"], [9000, BRIDGE_IP, "exposed port, -internal"]], []],
    [
      "SERVICE_INTERNAL=true without the flag",
      { SERVICE_INTERNAL: "true" },
      false,
      [[80, BRIDGE_IP, "exposed port, SERVICE_INTERNAL"], [9000, BRIDGE_IP, "exposed port, SERVICE_INTERNAL"]],
      [],
    ],
    ["SERVICE_INTERNAL=false beats the flag", { SERVICE_INTERNAL: "false" }, true, [[8080, HOST_IP, "binding HostPort"]], ["9000/tcp"]],
    [
      "per port beats per container (on)",
      { SERVICE_INTERNAL: "no", SERVICE_9000_INTERNAL: "yes" },
      true,
      [[8080, HOST_IP, "binding HostPort"], [9000, BRIDGE_IP, "exposed port, SERVICE_9000_INTERNAL"]],
      [],
    ],
    [
      "per port beats per container (off)",
      { SERVICE_INTERNAL: "1", SERVICE_80_INTERNAL: "off" },
      false,
      [[8080, HOST_IP, "binding HostPort"], [9000, BRIDGE_IP, "exposed port, SERVICE_INTERNAL"]],
      [],
    ],
    ["boolean rules: 0 is off", { SERVICE_INTERNAL: "0" }, true, [[8080, HOST_IP, "binding HostPort"]], ["9000/tcp"]],
    ["boolean rules: empty is off", { SERVICE_INTERNAL: "" }, true, [[8080, HOST_IP, "binding HostPort"]], ["9000/tcp"]],
    ["boolean rules: any other value is on", { SERVICE_INTERNAL: "Y" }, false, [[80, BRIDGE_IP, "exposed port, SERVICE_INTERNAL"], [9000, BRIDGE_IP, "exposed port, SERVICE_INTERNAL"]], []],
  ];
  for (const [what, env, internal, services, ignored] of cases) {
    test(what, () => {
      const r = derive(container({ ports: { "80/tcp": dualStack("8080") }, exposed: ["9000/tcp"], env }), { internal });
      expect(r.services.map((s) => [s.port, s.ip, s.why?.port])).toEqual(services);
      expect(r.ignored.map((i) => i.port)).toEqual(ignored);
    });
  }
  test("the reason of a port it leaves unpublished names the key", () => {
    const r = derive(container({ exposed: ["9000/tcp"], env: { SERVICE_INTERNAL: "false" } }), { internal: true });
    expect(r.ignored).toEqual([{ port: "9000/tcp", reason: 'not published on the host (SERVICE_INTERNAL is "false")' }]);
  });
  test("the address rule says which setting chose the container IP", () => {
    expect(derive(web({ env: { SERVICE_INTERNAL: "true" } })).services[0]?.why?.address).toBe("SERVICE_INTERNAL, network bridge");
    expect(derive(web(), { internal: true }).services[0]?.why?.address).toBe("-internal, network bridge");
  });
  test("-ip loses to SERVICE_INTERNAL as it loses to -internal", () => {
    expect(derive(web({ env: { SERVICE_INTERNAL: "true" } }), { hostIp: "10.1.1.1" }).services[0]?.ip).toBe(BRIDGE_IP);
  });
});

describe("SERVICE_EXPOSE", () => {
  test("parse: ports with optional protocol; malformed entries apart", () => {
    expect(parseExpose("9100, 53/udp,8080/TCP,,x,0,70000,80/sctp,1-2")).toEqual({
      ports: ["9100/tcp", "53/udp", "8080/tcp"],
      bad: ["x", "0", "70000", "80/sctp", "1-2"],
    });
  });
  test("host network, no EXPOSE, nothing published: the host address and the same port", () => {
    const c = container({ networkMode: "host", env: { SERVICE_EXPOSE: "9100" }, image: "prom/node-exporter" });
    const r = derive(c);
    expect(r.services.map((s) => [s.id, s.name, s.ip, s.port, s.why])).toEqual([
      ["host1:web1:9100", "node-exporter", HOST_IP, 9100, { address: "binding 0.0.0.0: this host's address", port: "SERVICE_EXPOSE, host network", name: "image prom/node-exporter" }],
    ]);
    expect(derive(c, { hostIp: "10.1.1.1" }).services[0]?.ip).toBe("10.1.1.1");
  });
  test("counts with the image's EXPOSE ports (names get the -<port> suffix); udp", () => {
    const c = container({ networkMode: "host", exposed: ["80/tcp"], env: { SERVICE_EXPOSE: "53/udp,80" } });
    expect(derive(c).services.map((s) => [s.id, s.name, s.port])).toEqual([
      ["host1:web1:53:udp", "nginx-53", 53],
      ["host1:web1:80", "nginx-80", 80],
    ]);
  });
  test("bridge network: exposed but unpublished, registered with -internal or SERVICE_INTERNAL", () => {
    const c = (env: Record<string, string>) => web({ env: { SERVICE_EXPOSE: "9100", ...env } });
    const plain = derive(c({}));
    expect(plain.services.map((s) => s.port)).toEqual([8080]);
    expect(plain.ignored).toEqual([{ port: "9100/tcp", reason: "not published on the host (-internal registers exposed ports)" }]);
    expect(derive(c({}), { internal: true }).services.map((s) => [s.ip, s.port, s.why?.port])).toEqual([
      [BRIDGE_IP, 80, "exposed port, -internal"],
      [BRIDGE_IP, 9100, "SERVICE_EXPOSE, -internal"],
    ]);
    expect(derive(c({ SERVICE_9100_INTERNAL: "true" })).services.map((s) => [s.ip, s.port])).toEqual([
      [HOST_IP, 8080],
      [BRIDGE_IP, 9100],
    ]);
  });
  test("a port Docker publishes keeps its binding", () => {
    const c = container({ ports: { "9100/tcp": dualStack("19100") }, env: { SERVICE_EXPOSE: "9100" } });
    expect(derive(c).services.map((s) => [s.port, s.why?.port])).toEqual([[19100, "binding HostPort"]]);
  });
  test("malformed entries: one warning each, the others still count", () => {
    const r = derive(container({ networkMode: "host", env: { SERVICE_EXPOSE: "9100,abc,9200/sctp" } }));
    expect(r.services.map((s) => s.port)).toEqual([9100]);
    expect(r.warnings).toEqual([
      'Ignored "abc" in SERVICE_EXPOSE of container "web1": expected <port>[/tcp|/udp] with a port from 1 to 65535, e.g. 9100 or 53/udp',
      'Ignored "9200/sctp" in SERVICE_EXPOSE of container "web1": expected <port>[/tcp|/udp] with a port from 1 to 65535, e.g. 9100 or 53/udp',
    ]);
  });
  test("per-port metadata applies to an added port", () => {
    const c = container({ networkMode: "host", env: { SERVICE_EXPOSE: "9100", SERVICE_9100_NAME: "metrics" } });
    expect(derive(c).services.map((s) => [s.name, s.why?.name])).toEqual([["metrics", "SERVICE_9100_NAME"]]);
  });
});

describe("-default-name", () => {
  const compose = { "com.docker.compose.service": "api" };
  const cases: Array<[string, DeriveOptions["defaultName"], ContainerSpec, string, string]> = [
    ["image (default)", undefined, {}, "nginx", "image nginx:latest"],
    ["image", "image", { labels: compose }, "nginx", "image nginx:latest"],
    ["container", "container", { name: "shop-web-1" }, "shop-web-1", "-default-name container"],
    ["compose with the label", "compose", { labels: compose }, "api", "-default-name compose"],
    ["compose without the label: the image rule", "compose", {}, "nginx", "image nginx:latest"],
    ["SERVICE_NAME beats it", "container", { env: { SERVICE_NAME: "named" } }, "named", "SERVICE_NAME"],
  ];
  for (const [what, defaultName, spec, name, why] of cases) {
    test(what, () => expect(derive(web(spec), { defaultName }).services.map((s) => [s.name, s.why?.name])).toEqual([[name, why]]));
  }
  test("the -<port> suffix rule is unchanged", () => {
    expect(derive(two({ labels: compose }), { defaultName: "compose" }).services.map((s) => [s.name, s.why?.name])).toEqual([
      ["api-80", "-default-name compose, -80 (several ports)"],
      ["api-443", "-default-name compose, -443 (several ports)"],
    ]);
  });
  test("an unsafe compose label skips the port with a warning naming it", () => {
    const r = derive(web({ labels: { "com.docker.compose.service": "../x" } }), { defaultName: "compose" });
    expect(r.services).toEqual([]);
    expect(r.warnings[0]).toContain('label com.docker.compose.service gives the service name "../x"');
  });
});

describe("an image named by its ID (#701)", () => {
  const hex = "a".repeat(64); // the builders' image ID
  const byId = (image: string, spec: ContainerSpec = {}) => web({ image, name: "job-7", ...spec });
  test("which references are image IDs", () => {
    const id = `sha256:${hex}`;
    expect(imageIdOf(`sha256:${hex}`, id)).toBe(id);
    expect(imageIdOf(hex, id)).toBe(id);
    expect(imageIdOf(hex.slice(0, 12), id)).toBe(id);
    expect(imageIdOf(`sha256:${hex.slice(0, 12)}`, id)).toBe(id);
    expect(imageIdOf(hex.slice(0, 5), id)).toBe(id); // Docker takes any unique prefix
    expect(imageIdOf("abcdef012345", id)).toBeUndefined(); // a hex repository name, not this image
    expect(imageIdOf("aaa", id)).toBeUndefined(); // too short to tell from a name
    expect(imageIdOf("nginx", id)).toBeUndefined();
    expect(imageIdOf("app@sha256:" + hex, id)).toBeUndefined();
  });
  for (const ref of [`sha256:${hex}`, hex, hex.slice(0, 12)]) {
    test(`${ref.slice(0, 20)}…: the image's first tag, basename without the tag`, () => {
      expect(derive(byId(ref), { imageTag: "registry:5000/team/shop:1.2" }).services.map((s) => [s.name, s.why?.name])).toEqual([
        ["shop", `image tag registry:5000/team/shop:1.2 of sha256:${hex.slice(0, 12)}`],
      ]);
    });
    test(`${ref.slice(0, 20)}… untagged: the container name, never "sha256"`, () => {
      for (const imageTag of [null, undefined]) {
        expect(derive(byId(ref), { imageTag }).services.map((s) => [s.name, s.why?.name])).toEqual([
          ["job-7", `container name (image sha256:${hex.slice(0, 12)} has no tag)`],
        ]);
      }
    });
  }
  test("a named image ignores any tag lookup", () => {
    expect(derive(web({ image: "redis:7" }), { imageTag: "other:1" }).services[0]?.name).toBe("redis");
  });
  test("-default-name compose falls back to the image-ID rule", () => {
    expect(derive(byId(`sha256:${hex}`), { defaultName: "compose", imageTag: "shop:dev" }).services[0]?.name).toBe("shop");
  });
});

describe("provenance", () => {
  test("each address rule names itself", () => {
    const cases: Array<[ContainerInspect, Partial<DeriveOptions>, string]> = [
      [web(), {}, "binding 0.0.0.0: this host's address"],
      [container({ ports: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }] } }), {}, "binding HostIp"],
      [web(), { hostIp: "10.1.1.1" }, "-ip → 10.1.1.1"],
      [web(), { hostIp: "10.1.1.1", hostIpSource: "-ip eth0" }, "-ip eth0 → 10.1.1.1"],
      [web({ networkMode: "backend" }), {}, "user-defined network, network backend"],
      [web({ labels: { addr: "10.2.2.2" } }), { useIpFromLabel: "addr" }, "-useIpFromLabel addr"],
      [container({ networkMode: `container:${peer.Id}`, exposed: ["80/tcp"] }), { peer }, "container: network mode, network podnet"],
      [container({ networkMode: "host", exposed: ["80/tcp"] }), { internal: true }, "-internal, host network: this host's address"],
    ];
    for (const [c, opts, why] of cases) expect(derive(c, opts).services[0]?.why?.address).toBe(why);
  });
  test("equal provenance is one shared object", () => {
    const a = derive(web({ name: "a" })).services[0]?.why;
    const b = derive(web({ name: "b" })).services[0]?.why;
    expect(a).toBe(b!);
  });
});
