// -ip as an address, an interface or a range: parsing, the address picked, and the re-resolution
// events (src/host-address.ts), with interface lists made up here.
import { describe, expect, test } from "bun:test";
import { HostAddress, type IpSpec, parseIpFlag, pickAddress } from "../../src/host-address.ts";
import { readyJson } from "../../src/http/status.ts";
import type { NetInterfaces } from "../../src/runtime/types.ts";

const v4 = (address: string, internal = false) => ({ address, family: "IPv4" as const, internal });
const v6 = (address: string) => ({ address, family: "IPv6" as const, internal: false });

const HOST: NetInterfaces = {
  lo: [v4("127.0.0.1", true), { ...v6("::1"), internal: true }],
  eth0: [v4("192.168.1.20"), v4("192.168.1.21"), v6("fe80::1")],
  eth1: [v6("fe80::2"), v6("2001:db8::20")],
  wg0: [v4("10.8.0.3")],
  down: [],
};

const spec = (s: string): IpSpec => {
  const r = parseIpFlag(s);
  if (!r || "error" in r) throw new Error(`not a spec: ${s}`);
  return r;
};

describe("parseIpFlag", () => {
  test.each([
    ["10.0.0.5", "address"],
    ["2001:db8::1", "address"],
    ["eth0", "interface"],
    ["br-0123456789ab", "interface"],
    ["10.0.0.0/8", "cidr"],
    ["2001:db8::/32", "cidr"],
    ["0.0.0.0/0", "cidr"],
  ])("%s is an %s", (s, kind) => {
    expect(spec(s).kind).toBe(kind as IpSpec["kind"]);
  });

  test("empty: not given", () => {
    expect(parseIpFlag("")).toBeUndefined();
  });

  test.each(["10.0.0.256", "1.2.3", "10.0.0.0/33", "10.0.0/8", "2001:db8::/129", "10.0.0.0/x", "eth 0", "a-name-longer-than-15", "eth0:1", "é0"])(
    "%s is malformed, with a message naming the flag and the three forms",
    (s) => {
      const r = parseIpFlag(s);
      expect(r && "error" in r && r.error).toMatch(/^Invalid value ".*" for flag -ip: .*interface name \(eth0\).*CIDR range \(10\.0\.0\.0\/8\)/);
    },
  );
});

describe("pickAddress", () => {
  test("an interface: its first IPv4 address", () => {
    expect(pickAddress(spec("eth0"), HOST)).toBe("192.168.1.20");
  });

  test("an interface without IPv4: its first global IPv6 address (link-local skipped)", () => {
    expect(pickAddress(spec("eth1"), HOST)).toBe("2001:db8::20");
  });

  test("an unknown interface, or one without a usable address: none", () => {
    expect(pickAddress(spec("eth9"), HOST)).toBeUndefined();
    expect(pickAddress(spec("down"), HOST)).toBeUndefined();
    expect(pickAddress(spec("eth1"), { eth1: [v6("fe80::2")] })).toBeUndefined();
  });

  test("a range: the host's first address inside it, in interface order", () => {
    expect(pickAddress(spec("10.0.0.0/8"), HOST)).toBe("10.8.0.3");
    expect(pickAddress(spec("192.168.0.0/16"), HOST)).toBe("192.168.1.20");
    expect(pickAddress(spec("192.168.1.21/32"), HOST)).toBe("192.168.1.21");
    expect(pickAddress(spec("127.0.0.0/8"), HOST)).toBe("127.0.0.1");
    expect(pickAddress(spec("2001:db8::/32"), HOST)).toBe("2001:db8::20");
    expect(pickAddress(spec("172.16.0.0/12"), HOST)).toBeUndefined();
  });

  test("a range's host bits do not matter (10.1.2.3/8 is 10.0.0.0/8); /0 takes the first IPv4", () => {
    expect(pickAddress(spec("10.1.2.3/8"), HOST)).toBe("10.8.0.3");
    expect(pickAddress(spec("0.0.0.0/0"), HOST)).toBe("127.0.0.1");
  });

  test("IPv4 ranges never match IPv6 addresses and the reverse", () => {
    expect(pickAddress(spec("::/0"), { eth0: [v4("10.0.0.1"), v6("2001:db8::1")] })).toBe("2001:db8::1");
    expect(pickAddress(spec("0.0.0.0/0"), { eth0: [v6("2001:db8::1"), v4("10.0.0.1")] })).toBe("10.0.0.1");
  });

  test("an IPv6 range with an embedded IPv4 tail and a zone in the listed address", () => {
    expect(pickAddress(spec("::ffff:10.0.0.0/104"), { eth0: [v6("::ffff:10.1.2.3")] })).toBe("::ffff:10.1.2.3");
    expect(pickAddress(spec("fe80::/10"), { eth0: [v6("fe80::1%eth0")] })).toBe("fe80::1%eth0");
  });
});

describe("HostAddress: looked up again, one event per change", () => {
  function tracked(s: string) {
    let ifaces: NetInterfaces = {};
    const events: string[] = [];
    const a = new HostAddress(spec(s) as Exclude<IpSpec, { kind: "address" }>, () => ifaces, {
      changed: (next, prev) => events.push(`changed ${prev ?? "-"} → ${next}`),
      missing: (m) => events.push(`missing: ${m}`),
    });
    return { a, events, set: (i: NetInterfaces) => (ifaces = i) };
  }

  test("no address yet: said once, then found, then a change, then the same again is no event", () => {
    const t = tracked("eth0");
    expect(t.a.refresh()).toBe(false);
    expect(t.a.refresh()).toBe(false);
    expect(t.a.current).toBeUndefined();
    expect(t.events).toEqual([expect.stringMatching(/^missing: -ip eth0: interface "eth0" has no address yet; .*\/ready is false/)]);
    t.set({ eth0: [v4("198.18.0.1")] });
    expect(t.a.refresh()).toBe(true);
    expect(t.a.why).toBe("-ip eth0 → 198.18.0.1");
    t.set({ eth0: [v4("198.18.0.2")] });
    expect(t.a.refresh()).toBe(true);
    expect(t.a.refresh()).toBe(false);
    expect(t.events.slice(1)).toEqual(["changed - → 198.18.0.1", "changed 198.18.0.1 → 198.18.0.2"]);
    expect(t.a.current).toBe("198.18.0.2");
  });

  test("an address that disappears keeps the last one known, said once; it coming back is no change", () => {
    const t = tracked("10.0.0.0/8");
    t.set({ eth0: [v4("10.0.0.7")] });
    t.a.refresh();
    t.set({ eth0: [] });
    expect(t.a.refresh()).toBe(false);
    expect(t.a.refresh()).toBe(false);
    expect(t.a.current).toBe("10.0.0.7");
    t.set({ eth0: [v4("10.0.0.7")] });
    expect(t.a.refresh()).toBe(false);
    expect(t.events).toEqual(["changed - → 10.0.0.7", expect.stringMatching(/^missing: -ip 10\.0\.0\.0\/8: no interface in 10\.0\.0\.0\/8 has an address any more; services keep 10\.0\.0\.7/)]);
  });

  test("a lister that throws counts as no address, with the reason", () => {
    const a = new HostAddress(spec("eth0") as Exclude<IpSpec, { kind: "address" }>, () => {
      throw new Error("getifaddrs failed");
    }, { changed: () => {}, missing: (m) => expect(m).toContain("getifaddrs failed") });
    expect(a.refresh()).toBe(false);
  });
});

describe("/ready while -ip has no address", () => {
  test("503 with the reason; 200 once there is no address entry", () => {
    const up = { ok: true, reason: "" };
    expect(readyJson({ docker: up, registry: up, address: { ok: false, reason: "-ip eth0 has no address yet" } })).toEqual({
      ready: false,
      reason: "address: -ip eth0 has no address yet",
    });
    expect(readyJson({ docker: { ok: false, reason: "not connected yet" }, registry: up, address: { ok: false, reason: "-ip eth0 has no address yet" } }).reason).toBe(
      "docker: not connected yet; address: -ip eth0 has no address yet",
    );
    expect(readyJson({ docker: up, registry: up })).toEqual({ ready: true });
  });
});
