// build/'s pure parts: the command line and the profile's generated note.
import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../build/args.ts";
import { GENERATED_NOTE, profileEntries, withNote } from "../../build/bytecode-order.ts";

describe("build.ts arguments", () => {
  test("defaults: every target, bytecode on", () => {
    expect(parseArgs([])).toEqual({ help: false, recordOrder: false, image: false, bytecode: true, smol: false });
  });
  test("--target with or without bun-, --image, --no-bytecode", () => {
    expect(parseArgs(["--target", "linux-arm64"]).target).toBe("bun-linux-arm64");
    expect(parseArgs(["--target=bun-linux-x64-baseline"]).target).toBe("bun-linux-x64-baseline");
    expect(parseArgs(["--image", "--no-bytecode"])).toMatchObject({ image: true, bytecode: false });
  });
  test("bad arguments name themselves and what is valid", () => {
    expect(() => parseArgs(["--bogus"])).toThrow(/Invalid argument "--bogus"\nUsage:/);
    expect(() => parseArgs(["--target", "win"])).toThrow(/Invalid --target "win": expected one of bun-linux-x64, /);
    const other = process.arch === "arm64" ? "linux-x64" : "linux-arm64";
    expect(() => parseArgs(["--image", "--target", other])).toThrow(/with --image: the image holds this machine's target/);
  });
});

describe("bytecode.order", () => {
  test("the note goes under bun's format line, once", () => {
    const noted = withNote("v2\nF 00aa\nK 11bb\n");
    expect(noted).toBe(`v2\n${GENERATED_NOTE}\nF 00aa\nK 11bb\n`);
    expect(withNote(noted)).toBe(noted);
  });
  test("entries leave out the format line and comments", () => {
    expect([...profileEntries(withNote("v2\nF 00aa\nK 11bb\nF 00aa\n"))]).toEqual(["F 00aa", "K 11bb"]);
  });
});
