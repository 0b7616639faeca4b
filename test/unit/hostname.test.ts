// -hostname and the default host name (src/hostname.ts), with the files and the engine made up here.
import { describe, expect, test } from "bun:test";
import { type HostnameIo, chooseHostname, ownContainerProof } from "../../src/hostname.ts";
import { memoryLogger } from "../../src/log.ts";

const ID = "3f4e5d6c7b8a" + "9".repeat(52);
const SHORT = ID.slice(0, 12);
const MOUNTINFO = `812 790 0:45 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n`;

function io(over: Partial<HostnameIo> = {}): HostnameIo & { infoCalls: number } {
  const o = {
    infoCalls: 0,
    osHostname: SHORT,
    readFile: async (path: string) => {
      if (path === "/proc/self/mountinfo") return MOUNTINFO;
      if (path === "/proc/self/cgroup") return "0::/\n";
      throw new Error(`ENOENT ${path}`);
    },
    engineName: async () => {
      o.infoCalls++;
      return "docker-host-1";
    },
    inspect: async () => null,
    ...over,
  };
  return o;
}

describe("chooseHostname", () => {
  test("-hostname wins, nothing is read", async () => {
    const x = io({ readFile: async () => { throw new Error("not read"); } });
    expect(await chooseHostname("x", x, memoryLogger())).toBe("x");
    expect(x.infoCalls).toBe(0);
  });

  test("in a container whose host name is its own ID: the engine's name, logged with the reason", async () => {
    const log = memoryLogger();
    expect(await chooseHostname("", io(), log)).toBe("docker-host-1");
    const line = log.lines.find((l) => l.msg.includes("docker-host-1"));
    expect(line?.msg).toMatch(new RegExp(`own host name "${SHORT}" is its container ID \\(it is the start of the container ID in /proc/self/mountinfo\\).*set -hostname`));
  });

  test("the ID in /proc/self/cgroup counts too (cgroup v1, or no cgroup namespace)", async () => {
    const x = io({ readFile: async (p) => (p === "/proc/self/cgroup" ? `12:pids:/docker/${ID}\n` : "") });
    expect(await chooseHostname("", x, memoryLogger())).toBe("docker-host-1");
  });

  test("neither file says so: the engine's inspect of that ID with the same host name does", async () => {
    const x = io({ readFile: async () => "", inspect: async (id) => ({ id: ID, hostname: id }) });
    expect(await ownContainerProof(SHORT, x)).toBe("the engine has a container with that ID and host name");
  });

  test.each([
    ["an ordinary host name", { osHostname: "web-1" }],
    ["12 hex digits that are no container ID here", { osHostname: "abcdefabcdef" }],
    ["12 hex digits of another container (its host name differs)", { osHostname: "abcdefabcdef", inspect: async () => ({ id: "abcdefabcdef" + "0".repeat(52), hostname: "other" }) }],
    ["a longer hex run that merely contains it", { osHostname: SHORT, readFile: async () => `/x/aa${ID}\n` }],
  ] as Array<[string, Partial<HostnameIo>]>)("the OS host name for %s", async (_, over) => {
    const x = io(over);
    expect(await chooseHostname("", x, memoryLogger())).toBe(x.osHostname);
    expect(x.infoCalls).toBe(0);
  });

  test("the engine does not answer yet: retried with a warning each time, never the container ID", async () => {
    let calls = 0;
    const log = memoryLogger();
    const x = io({
      engineName: async () => {
        if (++calls < 3) throw new Error("connect ENOENT /tmp/docker.sock");
        return "docker-host-1";
      },
    });
    expect(await chooseHostname("", x, log)).toBe("docker-host-1");
    expect(log.lines.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Cannot read the Docker engine's host name \(for service IDs\): connect ENOENT \/tmp\/docker\.sock; retrying in 500 ms$/),
      expect.stringMatching(/retrying in 1000 ms$/),
    ]);
  });
});
