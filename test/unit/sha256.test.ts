import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { nodeIdFor } from "../../src/http/consul-shapes.ts";
import { sha256Hex } from "../../src/sha256.ts";

const reference = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("sha256Hex", () => {
  test("FIPS 180-4 examples and UTF-8 input", async () => {
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for (const s of ["wëb-主机", "x".repeat(1000)]) expect(await sha256Hex(s)).toBe(reference(s));
  });
});

describe("nodeIdFor", () => {
  test("a UUID version 8 (RFC 9562 5.8, name-based with SHA-256) of the host name, stable", async () => {
    const id = await nodeIdFor("host1");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The hash's first 128 bits with the version and variant bits set.
    const h = reference("registrator-node:host1");
    expect(id.replace(/-/g, "").slice(0, 12)).toBe(h.slice(0, 12));
    expect(id.replace(/-/g, "").slice(20)).toBe(h.slice(20, 32));
    expect(await nodeIdFor("host1")).toBe(id);
    expect(await nodeIdFor("host2")).not.toBe(id);
  });
});
