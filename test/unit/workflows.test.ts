// The GitHub Actions workflows cannot run here (no GitHub, no runners): what can be checked is
// that GitHub would accept them (@action-validator/cli: GitHub's workflow schema, job `needs`,
// step shapes; it runs offline) and that they run this repository's own entry points.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const WORKFLOWS = join(ROOT, ".github/workflows");
const VALIDATOR = join(ROOT, "node_modules/@action-validator/cli/cli.mjs");

function validate(file: string): { code: number; output: string } {
  const r = Bun.spawnSync([process.execPath, VALIDATOR, file], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, output: r.stdout.toString() + r.stderr.toString() };
}

const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

describe("GitHub workflows", () => {
  test("ci.yml and release.yml are there", () => {
    expect(files).toContain("ci.yml");
    expect(files).toContain("release.yml");
  });

  for (const file of files) {
    test(`${file} passes action-validator`, () => {
      const r = validate(join(WORKFLOWS, file));
      if (r.code !== 0) throw new Error(`${file} is not a valid workflow:\n${r.output}`);
    });
  }

  test("the validator rejects a broken workflow (it is not a no-op)", () => {
    const dir = mkdtempSync(join(tmpdir(), "registrator-workflow-"));
    try {
      const bad = join(dir, "bad.yml");
      writeFileSync(bad, "name: bad\non: [push]\njobs:\n  a:\n    needs: missing\n    runs-on: ubuntu-24.04\n    steps:\n      - run: true\n");
      const r = validate(bad);
      expect(r.code).not.toBe(0);
      expect(r.output).toContain("unresolved job missing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("CI runs .ci/run; a release builds with build.ts and ships checksums and the image", () => {
    const ci = readFileSync(join(WORKFLOWS, "ci.yml"), "utf8");
    expect(ci).toContain("run: bash .ci/run");
    const release = readFileSync(join(WORKFLOWS, "release.yml"), "utf8");
    expect(release).toContain('tags: ["v*"]');
    expect(release).toContain("bun run build.ts\n");
    expect(release).toContain("bun run build.ts --image");
    expect(release).toContain("sha256sum registrator-linux-*");
    expect(release).toContain("docker buildx imagetools create");
    expect(release).toContain("ghcr.io/");
  });
});
