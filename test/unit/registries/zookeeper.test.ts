// zookeeper adapter and wire client without a server: URI validation, znode body, jute encoding.
import { parseRegistryUri } from "../../../src/registries/uri.ts";
import { describe, expect, test } from "bun:test";
import { JuteError, JuteReader, JuteWriter } from "../../../src/registries/zk/jute.ts";
import { Err, Op, ZkError, decodeConnect, encodeConnect, readStat, request } from "../../../src/registries/zk/protocol.ts";
import { znodeBody, zookeeperFactory } from "../../../src/registries/zookeeper.ts";
import type { Runtime } from "../../../src/runtime/types.ts";
import { adapterContext, configError, testService } from "../../support/fixtures.ts";

const { ctx } = adapterContext({ runtime: {} as Runtime });

const service = testService({ tags: ["a", "b"], attrs: { zone: "x", env: "prod" }, origin: { containerId: "f".repeat(64) } });

describe("zookeeper URI", () => {
  test.each(["zookeeper://127.0.0.1:2181/services", "zookeeper://h1:1,h2:2,[::1]:3/a/b", "zookeeper:///base", "zookeeper://h"])(
    "%s is accepted without connecting",
    (uri) => {
      const a = zookeeperFactory(parseRegistryUri(uri), ctx);
      expect(a.backend).toBe("zookeeper");
      expect(a.list).toBeUndefined();
    },
  );

  test.each([
    ["zk://h:2181/base", /scheme must be zookeeper:\/\//],
    ["zookeeper://h:99999/base", /port "99999"/],
    ["zookeeper://h:1,/base", /"" is not a host/],
    ["zookeeper://h/base?x=1", /unknown option "x"/],
    ["zookeeper://h/a/../b", /"\." or "\.\."/],
    ["zookeeper://h/zookeeper/x", /reserved by ZooKeeper/],
  ])("%s is a ConfigError", (uri, re) => {
    const e = configError(() => zookeeperFactory(parseRegistryUri(uri), ctx));
    expect(e.message).toMatch(re);
    expect(e.message).toContain("zookeeper://host:port");
  });
});

describe("znode body", () => {
  test("registrator's fields, PrivatePort = exposed port, PublicPort = service port, attrs sorted", () => {
    expect(znodeBody(service)).toBe(
      `{"Name":"web","IP":"10.0.0.2","PublicPort":8080,"PrivatePort":80,"ContainerID":"${"f".repeat(64)}",` +
        `"Tags":["a","b"],"Attrs":{"env":"prod","zone":"x"}}`,
    );
  });
});

describe("jute", () => {
  test("round trip of every type, null buffers and strings, growth past the first chunk", () => {
    const big = "é".repeat(300);
    const w = new JuteWriter().int(-5).long(-(2n ** 63n)).long(2n ** 63n - 1n).bool(true).bool(false).buffer(null).string(null).string(big).buffer(new Uint8Array([1, 2, 3]));
    const r = new JuteReader(w.bytes());
    expect([r.int(), r.long(), r.long(), r.bool(), r.bool(), r.buffer(), r.string(), r.string()]).toEqual([
      -5, -(2n ** 63n), 2n ** 63n - 1n, true, false, null, null, big,
    ]);
    expect([...(r.buffer() ?? [])]).toEqual([1, 2, 3]);
    expect(r.remaining).toBe(0);
    expect(() => r.int()).toThrow(JuteError);
  });

  test("ConnectRequest bytes: length, protocol 0, zxid, timeout, session, 16-byte password, readOnly", () => {
    const frame = encodeConnect({ lastZxidSeen: 0x1234n, timeoutMs: 4000, sessionId: 0x0102030405060708n, password: new Uint8Array(16).fill(7) });
    const hex = Buffer.from(frame).toString("hex");
    expect(hex).toBe(
      "0000002d" + // 45 bytes follow
        "00000000" +
        "0000000000001234" +
        "00000fa0" +
        "0102030405060708" +
        "00000010" +
        "07".repeat(16) +
        "00",
    );
  });

  test("ConnectResponse with and without the readOnly byte", () => {
    const body = new JuteWriter().int(0).int(6000).long(0x42n).buffer(new Uint8Array(16).fill(9));
    expect(decodeConnect(new JuteReader(body.bytes()))).toMatchObject({ timeoutMs: 6000, sessionId: 0x42n });
    expect(decodeConnect(new JuteReader(body.bool(false).bytes())).password).toEqual(new Uint8Array(16).fill(9));
  });

  test("request header: xid then opcode, framed; ping is xid -2 op 11; Stat has 11 fields in order", () => {
    expect(Buffer.from(request(-2, Op.ping)).toString("hex")).toBe("00000008fffffffe0000000b");
    expect(Buffer.from(request(7, Op.delete, (w) => w.string("/a").int(-1))).toString("hex")).toBe(
      "00000012" + "00000007" + "00000002" + "00000002" + "2f61" + "ffffffff",
    );
    const w = new JuteWriter().long(1n).long(2n).long(3n).long(4n).int(5).int(6).int(7).long(8n).int(9).int(10).long(11n);
    expect(readStat(new JuteReader(w.bytes()))).toEqual({
      czxid: 1n, mzxid: 2n, ctime: 3n, mtime: 4n, version: 5, cversion: 6, aversion: 7, ephemeralOwner: 8n, dataLength: 9, numChildren: 10, pzxid: 11n,
    });
  });

  test("ZkError names the code and path", () => {
    expect(new ZkError(Err.nodeExists, "/a").message).toBe('nodeExists for "/a"');
    expect(new ZkError(-999).message).toBe("error -999");
  });
});
