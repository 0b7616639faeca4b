// No module may import itself back, directly or through others: a cycle means two modules share
// one job (or one of them holds a type the other should own), and with ES modules it also means
// one of them can run before the other has initialised. Every relative import counts: static
// `import`/`export … from`, `import type` (a type-only cycle is still two modules that cannot be
// understood apart) and dynamic `import("…")` (a lazily loaded module is still a dependency).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/**
 * Cycles known and being removed by other work, each `[file, file]` of the cycle. Empty: the
 * last one (bridge.ts ↔ entries.ts) went with the bridge rework (issue 17, item 1). The test below
 * fails as soon as a listed pair no longer forms a cycle, so an entry cannot outlive its fix.
 */
const KNOWN_CYCLES_TO_REMOVE: readonly (readonly string[])[] = [];

const SOURCE = /\.(?:ts|tsx|mts|js|mjs)$/;

function sourceFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return SOURCE.test(path) && !path.endsWith(".d.ts") ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.name !== "node_modules" && !e.name.startsWith("."))
    .flatMap((e) => sourceFiles(join(path, e.name)));
}

/** The source without comments (strings are kept: the specifiers live in them). */
function stripComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      const start = i;
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
      out += text.slice(start, i + 1);
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 1;
      out += " ";
    } else out += c;
  }
  return out;
}

const PATTERNS = [
  // import x from "…", import { a, type B } from "…", import type T from "…", import * as n from "…",
  // export { a } from "…", export * from "…", export type { T } from "…"
  /(?:^|[;}\s])(?:import|export)\s+(?:type\s+)?[\w$*{}\s,]*?\s*from\s*["']([^"']+)["']/g,
  /(?:^|[;}\s])import\s*["']([^"']+)["']/g, // side-effect import
  /\bimport\(\s*["']([^"']+)["']\s*[,)]/g, // dynamic import
];

/** The relative specifiers a file imports. */
export function importsOf(text: string): string[] {
  const code = stripComments(text);
  const found = new Set<string>();
  for (const re of PATTERNS) for (const m of code.matchAll(re)) found.add(m[1]!);
  return [...found].filter((s) => s.startsWith("./") || s.startsWith("../"));
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

export function importGraph(roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const queue = roots.flatMap((r) => sourceFiles(join(ROOT, r)));
  while (queue.length) {
    const file = queue.pop()!;
    if (graph.has(file)) continue;
    const deps = importsOf(readFileSync(file, "utf8"))
      .map((s) => resolveImport(file, s))
      .filter((d): d is string => d !== undefined && SOURCE.test(d));
    graph.set(file, deps);
    queue.push(...deps.filter((d) => !graph.has(d)));
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** The shortest import path around the component, for the message: a.ts → b.ts → a.ts. */
function describeCycle(scc: string[], graph: Map<string, string[]>): string {
  const members = new Set(scc);
  const start = scc[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  let last: string | undefined;
  while (queue.length && !last) {
    const at = queue.shift()!;
    for (const d of graph.get(at) ?? []) {
      if (!members.has(d)) continue;
      if (d === start) {
        last = at;
        break;
      }
      if (!cameFrom.has(d)) {
        cameFrom.set(d, at);
        queue.push(d);
      }
    }
  }
  const path = [start];
  for (let at = last; at && at !== start; at = cameFrom.get(at)) path.splice(1, 0, at);
  path.push(start);
  const label = (f: string) => relative(ROOT, f);
  const rest = scc.filter((f) => !path.includes(f));
  return path.map(label).join(" → ") + (rest.length ? ` (also in this knot: ${rest.map(label).join(", ")})` : "");
}

const isKnown = (scc: string[]) =>
  KNOWN_CYCLES_TO_REMOVE.some((k) => k.length === scc.length && k.every((f) => scc.includes(join(ROOT, f))));

describe("import cycles", () => {
  // Everything tsc checks: the product, its tests and benchmarks, and the build.
  const graph = importGraph(["src", "test", "bench", "build", "build.ts"]);

  test("the scanner sees every kind of import", () => {
    const text = [
      `import a from "./a.ts";`,
      `import type { B } from "./b.ts";`,
      `import {\n  c,\n  type C2,\n} from "../c.ts";`,
      `export { d } from "./d.ts";`,
      `export * from "./e.ts";`,
      `import "./f.ts";`,
      `const g = await import("./g.ts");`,
      `import h from "hono"; // not relative`,
      `// import x from "./commented.ts";`,
      `/* import("./block-commented.ts") */`,
      `const s = "http://example/"; import i from "./i.ts";`,
    ].join("\n");
    expect(importsOf(text).sort()).toEqual(["../c.ts", "./a.ts", "./b.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts", "./i.ts"]);
  });

  test("the cycle finder reports every knot once and nothing acyclic", () => {
    const [a, b, c, d, e, f, g] = ["a", "b", "c", "d", "e", "f", "g"].map((n) => join(ROOT, `${n}.ts`)) as [string, string, string, string, string, string, string];
    const graph = new Map<string, string[]>([
      [a, [b]],
      [b, [c, d]],
      [c, [a]], // a → b → c → a
      [d, [e]],
      [e, []],
      [f, [f]], // imports itself
      [g, [e]],
    ]);
    expect(cycles(graph).sort()).toEqual([[a, b, c], [f]]);
    expect(describeCycle([a, b, c], graph)).toBe("a.ts → b.ts → c.ts → a.ts");
    expect(describeCycle([f], graph)).toBe("f.ts → f.ts");
  });

  test("the walk reaches the product and the build", () => {
    const files = [...graph.keys()].map((f) => relative(ROOT, f));
    expect(files).toContain("src/cli.ts");
    expect(files).toContain("build.ts");
    expect(files.length).toBeGreaterThan(50);
  });

  test("no module imports itself back (src/, test/, bench/, build)", () => {
    const found = cycles(graph).filter((scc) => !isKnown(scc));
    const report = found.map((scc) => describeCycle(scc, graph));
    expect(report).toEqual([]);
  });

  test("the temporary allowlist names only cycles that still exist", () => {
    const all = cycles(graph);
    const stale = KNOWN_CYCLES_TO_REMOVE.filter((k) => !all.some((scc) => k.every((f) => scc.includes(join(ROOT, f)))));
    // When this fails, the cycle is gone: delete its entry from KNOWN_CYCLES_TO_REMOVE.
    expect(stale).toEqual([]);
  });
});
