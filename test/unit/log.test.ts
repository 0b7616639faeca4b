import { expect, test } from "bun:test";
import { createLogger } from "../../src/log.ts";

const capture = (opts: Parameters<typeof createLogger>[0] = {}) => {
  const lines: string[] = [];
  const log = createLogger({ ...opts, write: (l) => lines.push(l), now: () => new Date("2026-11-27T10:00:00Z") });
  return { log, lines };
};

test("text: one line per event, registrator's verbs first, fields as key=value", () => {
  const { log, lines } = capture();
  log.info("added: 0123456789ab host:web:80", { name: "web", port: 8080, tags: "a b" });
  expect(lines).toEqual(['2026-11-27T10:00:00.000Z info  added: 0123456789ab host:web:80 name=web port=8080 tags="a b"']);
});

test("json: one object per line", () => {
  const { log, lines } = capture({ format: "json" });
  log.warn("removed: x", { service: "s" });
  expect(lines.map((l) => JSON.parse(l))).toEqual([{ time: "2026-11-27T10:00:00.000Z", level: "warn", msg: "removed: x", service: "s" }]);
});

test("levels below the chosen one are dropped", () => {
  const { log, lines } = capture({ level: "warn" });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  expect(lines.map((l) => l.split(/\s+/)[2])).toEqual(["w", "e"]);
});

test("secret-looking fields are never printed, in either format", () => {
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture({ format });
    log.info("auth", { token: "s3cret", password: "hunter2", Authorization: "abc", user: "root" });
    const out = lines.join("\n");
    expect(out).not.toMatch(/s3cret|hunter2|abc/);
    expect(out).toContain("root");
  }
});
