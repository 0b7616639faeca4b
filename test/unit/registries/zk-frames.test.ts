// ZooKeeper packet framing: chunks in, packets out, each byte copied at most once.
import { describe, expect, test } from "bun:test";
import { FrameError, FrameReader } from "../../../src/registries/zk/frames.ts";

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setInt32(0, payload.length);
  out.set(payload, 4);
  return out;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** `stream` cut into pieces of the given sizes (cycled). */
function cut(stream: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(stream.slice(at, at + n));
    at += n;
  }
  return out;
}

describe("FrameReader", () => {
  const payloads = [bytes(0, 1), bytes(3, 2), bytes(100, 3), bytes(70_000, 4), bytes(5, 5)];
  const stream = new Uint8Array(payloads.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of payloads) {
    stream.set(frame(p), at);
    at += 4 + p.length;
  }

  for (const sizes of [[1], [2, 3], [4], [7, 1, 4096], [65536], [stream.length]]) {
    test(`chunks of ${sizes.join(",")} bytes give back the same packets`, () => {
      const r = new FrameReader();
      const got = cut(stream, sizes).flatMap((c) => r.push(c));
      expect(got.map((p) => [...p])).toEqual(payloads.map((p) => [...p]));
      expect(r.copied).toBeLessThanOrEqual(stream.length);
    });
  }

  test("a 16 MB reply in 1 KB chunks is joined with one copy of its bytes (linear, not quadratic)", () => {
    const big = bytes(16 * 1024 * 1024, 9);
    const r = new FrameReader();
    const packets = cut(frame(big), [1024]).flatMap((c) => r.push(c));
    expect(packets).toHaveLength(1);
    expect(packets[0]!.length).toBe(big.length);
    expect(packets[0]![12345]).toBe(big[12345]);
    expect(r.copied).toBe(big.length);
    console.error(`16 MB packet in ${Math.ceil((big.length + 4) / 1024)} chunks: ${r.copied} bytes copied`);
  });

  test("negative or oversized lengths are a FrameError", () => {
    const neg = new Uint8Array([0xff, 0xff, 0xff, 0xfe]);
    expect(() => new FrameReader().push(neg)).toThrow(FrameError);
    const huge = new Uint8Array(4);
    new DataView(huge.buffer).setInt32(0, 1024);
    expect(() => new FrameReader(1000).push(huge)).toThrow("bad packet length 1024");
  });
});
