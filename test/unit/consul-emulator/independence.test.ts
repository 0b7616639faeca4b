// The emulator is a second reading of Consul, so it must not borrow registrator's: no module of
// test/support/consul imports from src/ (a misreading shared by both could never fail a test).

import { expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../../support/consul");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

test("no module of the Consul emulator imports registrator's code", () => {
  const files = sources(ROOT);
  expect(files.length).toBeGreaterThan(10);
  const borrowed = files.flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']/g)]
      .map((m) => m[1]!)
      .filter((spec) => /(^|\/)src\//.test(spec))
      .map((spec) => `${f.slice(ROOT.length + 1)}: ${spec}`),
  );
  expect(borrowed).toEqual([]);
});
