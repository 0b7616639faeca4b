import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { sha256Hex } from "../../src/sha256.ts";

const reference = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("sha256Hex", () => {
  test("FIPS 180-4 test vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  test("every length across the padding boundaries (0–200 bytes) matches node:crypto", () => {
    for (let n = 0; n <= 200; n++) {
      const s = "x".repeat(n);
      expect(sha256Hex(s)).toBe(reference(s));
    }
  });

  test("UTF-8 text (node names with non-ASCII characters) matches node:crypto", () => {
    for (const s of ["registrator-node:host-é", "registrator-node:节点", "registrator-node:😀-node", "a\u0000b"]) {
      expect(sha256Hex(s)).toBe(reference(s));
    }
  });
});
