// -tags: a plain comma list, or a template in a subset of Go's text/template (parity "Precise rules").
//
// Supported: text; actions `{{ pipeline }}` with trim markers `{{- ` / ` -}}`; comments
// `{{/* ... */}}`; pipelines `a | f x | g`; operands `.`, field paths `.Config.Labels.key`, string
// literals "..." (Go escapes) and `raw`, integers and decimals, true/false/nil, and parenthesised
// pipelines `(index .Config.Labels "k").Field`. Functions: see template-helpers.ts.
// Not supported (a startup error naming -tags): control actions (if, range, with, define,
// template, block, else, end, break, continue), variables ($x), method calls, httpGet.
//
// Fields are those of registrator's container object: the inspect JSON, with `.ID` for `Id`.
// A field name is looked up exactly, then case-insensitively (so `.ID`, `.HostIP` also work);
// a missing field is empty. The rendered text is split into tags like SERVICE_TAGS.

import { ConfigError } from "../errors.ts";
import type { ContainerInspect } from "../docker/schema.ts";
import { parseTags } from "./metadata.ts";
import { HELPERS, renderValue, TemplateError } from "./template-helpers.ts";
import { check, type Operand, type Part, Parser, type Pipeline } from "./template-parse.ts";

export { TemplateError } from "./template-helpers.ts";

function field(v: unknown, name: string, root: boolean): unknown {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new TemplateError(`cannot read field "${name}" of a ${Array.isArray(v) ? "list" : typeof v}`);
  const m = v as Record<string, unknown>;
  if (root && name === "ID") return m.Id;
  if (Object.hasOwn(m, name)) return m[name];
  const key = Object.keys(m).sort().find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : m[key];
}

function evalPipeline(pipe: Pipeline, dot: unknown): unknown {
  let prev: unknown;
  pipe.forEach((cmd, k) => {
    const [head, ...rest] = cmd;
    const args = rest.map((a) => evalOperand(a, dot));
    if (head?.t === "fn") {
      if (k > 0) args.push(prev);
      prev = HELPERS.get(head.name)?.fn(...args);
    } else if (head) {
      prev = evalOperand(head, dot);
    }
  });
  return prev;
}

function evalOperand(op: Operand, dot: unknown): unknown {
  if (op.t === "lit") return op.v;
  if (op.t === "fn") throw new TemplateError(`"${op.name}" needs arguments`);
  let v = op.base ? evalPipeline(op.base, dot) : dot;
  op.path.forEach((name, i) => {
    v = field(v, name, !op.base && i === 0);
  });
  return v;
}

/** Compiles a Go-template subset; throws ConfigError naming `flag` on a bad template. */
export function compileTemplate(spec: string, flag = "-tags"): (data: unknown) => string {
  let parts: Part[];
  try {
    parts = new Parser(spec).parse();
    for (const p of parts) if (typeof p !== "string") check(p);
  } catch (e) {
    throw new ConfigError(`Invalid ${flag} template ${JSON.stringify(spec)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return (data) => parts.map((p) => (typeof p === "string" ? p : renderValue(evalPipeline(p, data)))).join("");
}

/**
 * `-tags` as a function of the container. A spec without `{{` is a plain comma list. A template
 * is compiled now (bad template: ConfigError); at render time a failure throws TemplateError,
 * which the caller turns into a warning and no template tags for that container.
 */
export function compileTags(spec: string): (container: ContainerInspect) => string[] {
  if (!spec.includes("{{")) {
    const tags = parseTags(spec);
    return () => [...tags];
  }
  const render = compileTemplate(spec);
  return (container) => {
    try {
      return parseTags(render(container));
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(`-tags template: ${e.message}`);
      throw new TemplateError(`-tags template: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
}
