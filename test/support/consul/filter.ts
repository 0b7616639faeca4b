// ?filter= as the agent evaluates it (hashicorp/go-bexpr, documented at
// developer.hashicorp.com/consul/api-docs/features/filtering), for the operators tests need:
//   Sel == v   Sel != v   v in Sel   v not in Sel   Sel contains v   Sel not contains v
//   Sel is empty   Sel is not empty   Sel matches "re"   Sel not matches "re"
//   joined with and / or / not and parentheses.
// Values are "double-quoted" (Go escapes), `backquoted`, or bare words. A selector is a dotted
// path into the JSON entry the endpoint answers; a selector through a list (Checks.Status) is
// true when any element matches, as go-bexpr does. A selector naming no field of the endpoint's
// entries is refused with a 400 before anything is evaluated, as Consul does.
// Written for the emulator alone: registrator's own ?filter= must agree with it, not share it.

import type { Ctx } from "./http.ts";
import { HttpError, query } from "./http.ts";

export type Filter = (entry: unknown) => boolean;

const PREFIX = "Failed to create boolean expression evaluator";

function refuse(detail: string): never {
  throw new HttpError(400, `${PREFIX}: ${detail}`);
}

/** Fields that are Go maps: any key is a valid selector below them. */
const MAP_FIELDS = new Set(["Meta", "NodeMeta", "ServiceMeta", "TaggedAddresses", "ServiceTaggedAddresses"]);

type Token = { kind: "word" | "string" | "punct"; text: string; pos: number };

const GO_ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"' };

function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === "==" || two === "!=") {
      tokens.push({ kind: "punct", text: two, pos: i });
      i += 2;
      continue;
    }
    if (c === "(" || c === ")") {
      tokens.push({ kind: "punct", text: c, pos: i });
      i++;
      continue;
    }
    if (c === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) refuse(`unterminated raw string at ${i + 1}`);
      tokens.push({ kind: "string", text: src.slice(i + 1, end), pos: i });
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let text = "";
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === "\\") {
          const e = src[j + 1];
          if (e === undefined || !Object.hasOwn(GO_ESCAPES, e)) refuse(`invalid escape at ${j + 1}`);
          text += GO_ESCAPES[e];
          j += 2;
        } else {
          text += src[j];
          j++;
        }
      }
      if (j >= src.length) refuse(`unterminated string at ${i + 1}`);
      tokens.push({ kind: "string", text, pos: i });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < src.length && !" \t\n\r()\"`".includes(src[j]!) && !["==", "!="].includes(src.slice(j, j + 2))) j++;
    tokens.push({ kind: "word", text: src.slice(i, j), pos: i });
    i = j;
  }
  return tokens;
}

/** A compiled match: the selector path and a test on the value(s) found there. */
interface Match {
  path: string[];
  op: "eq" | "contains" | "empty" | "matches";
  value: string;
  negate: boolean;
  re?: RegExp;
}

type Expr = { and: [Expr, Expr] } | { or: [Expr, Expr] } | { not: Expr } | { match: Match };

class ExprParser {
  private at = 0;
  readonly matches: Match[] = [];
  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    if (this.tokens.length === 0) refuse("empty expression");
    const e = this.orExpr();
    const extra = this.tokens[this.at];
    if (extra) refuse(`unexpected "${extra.text}" at ${extra.pos + 1}`);
    return e;
  }

  private peekWord(offset = 0): string | undefined {
    const t = this.tokens[this.at + offset];
    return t?.kind === "word" ? t.text : undefined;
  }

  private take(): Token {
    const t = this.tokens[this.at++];
    if (!t) refuse("unexpected end of expression");
    return t;
  }

  private orExpr(): Expr {
    let left = this.andExpr();
    while (this.peekWord() === "or") {
      this.at++;
      left = { or: [left, this.andExpr()] };
    }
    return left;
  }

  private andExpr(): Expr {
    let left = this.notExpr();
    while (this.peekWord() === "and") {
      this.at++;
      left = { and: [left, this.notExpr()] };
    }
    return left;
  }

  private notExpr(): Expr {
    if (this.peekWord() === "not") {
      this.at++;
      return { not: this.notExpr() };
    }
    const t = this.tokens[this.at];
    if (t?.kind === "punct" && t.text === "(") {
      this.at++;
      const inner = this.orExpr();
      const close = this.take();
      if (close.text !== ")") refuse(`expected ")" at ${close.pos + 1}`);
      return inner;
    }
    return { match: this.matchExpr() };
  }

  private valueToken(): string {
    const t = this.take();
    if (t.kind === "punct") refuse(`expected a value at ${t.pos + 1}`);
    return t.text;
  }

  private selectorToken(): string[] {
    const t = this.take();
    if (t.kind !== "word") refuse(`expected a selector at ${t.pos + 1}`);
    const path = t.text.split(".");
    if (path.some((p) => p === "")) refuse(`Selector "${t.text}" is not valid`);
    return path;
  }

  private matchExpr(): Match {
    // "<value> in <selector>" and "<value> not in <selector>"
    const second = this.peekWord(1);
    if (second === "in" || (second === "not" && this.peekWord(2) === "in")) {
      const value = this.valueToken();
      this.at += second === "in" ? 1 : 2;
      return this.record({ path: this.selectorToken(), op: "contains", value, negate: second === "not" });
    }
    const path = this.selectorToken();
    const op = this.take();
    if (op.kind === "punct" && (op.text === "==" || op.text === "!=")) {
      return this.record({ path, op: "eq", value: this.valueToken(), negate: op.text === "!=" });
    }
    if (op.kind !== "word") refuse(`expected an operator at ${op.pos + 1}`);
    if (op.text === "is") {
      const negate = this.peekWord() === "not";
      if (negate) this.at++;
      const empty = this.take();
      if (empty.text !== "empty") refuse(`expected "empty" at ${empty.pos + 1}`);
      return this.record({ path, op: "empty", value: "", negate });
    }
    const negate = op.text === "not";
    const verb = negate ? this.take().text : op.text;
    if (verb === "contains") return this.record({ path, op: "contains", value: this.valueToken(), negate });
    if (verb === "matches") {
      const value = this.valueToken();
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch {
        refuse(`invalid regular expression "${value}"`);
      }
      return this.record({ path, op: "matches", value, negate, re });
    }
    refuse(`unknown operator "${verb}" at ${op.pos + 1}`);
  }

  private record(m: Match): Match {
    this.matches.push(m);
    return m;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Refuses a selector that names no field of `sample` (map keys are free). */
function checkSelector(sample: unknown, path: string[]): void {
  let here: unknown = sample;
  for (let i = 0; i < path.length; i++) {
    while (Array.isArray(here)) here = here[0];
    if (here === undefined) return; // an empty list in the sample: nothing to check against
    if (i > 0 && MAP_FIELDS.has(path[i - 1]!)) return;
    if (!isObject(here) || !Object.hasOwn(here, path[i]!)) refuse(`Selector "${path.join(".")}" is not valid`);
    here = here[path[i]!];
  }
}

/** Every value at `path`, going through lists element by element; absent values are left out. */
function valuesAt(entry: unknown, path: string[]): unknown[] {
  let here: unknown[] = [entry];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const v of here) {
      const items = Array.isArray(v) ? v : [v];
      for (const item of items) if (isObject(item) && Object.hasOwn(item, seg)) next.push(item[seg]);
    }
    here = next;
  }
  return here;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObject(v)) return Object.keys(v).length === 0;
  return false;
}

function equals(v: unknown, want: string): boolean {
  if (typeof v === "number") return want.trim() !== "" && Number(want) === v;
  if (typeof v === "boolean") return want === String(v);
  return typeof v === "string" && v === want;
}

function test(m: Match, entry: unknown): boolean {
  const found = valuesAt(entry, m.path);
  let hit: boolean;
  switch (m.op) {
    case "empty":
      hit = found.length === 0 || found.every(isEmpty);
      break;
    case "eq":
      hit = found.some((v) => equals(v, m.value));
      break;
    case "matches":
      hit = found.some((v) => typeof v === "string" && m.re!.test(v));
      break;
    case "contains":
      hit = found.some((v) =>
        Array.isArray(v) ? v.some((x) => equals(x, m.value)) : isObject(v) ? Object.hasOwn(v, m.value) : typeof v === "string" && v.includes(m.value),
      );
      break;
  }
  return m.negate ? !hit : hit;
}

function run(e: Expr, entry: unknown): boolean {
  if ("and" in e) return run(e.and[0], entry) && run(e.and[1], entry);
  if ("or" in e) return run(e.or[0], entry) || run(e.or[1], entry);
  if ("not" in e) return !run(e.not, entry);
  return test(e.match, entry);
}

/** Compiles `expression` for entries shaped like `sample`; HttpError 400 when Consul would refuse it. */
export function compileFilter(expression: string, sample: unknown): Filter {
  const parser = new ExprParser(lex(expression));
  const tree = parser.parse();
  for (const m of parser.matches) checkSelector(sample, m.path);
  return (entry) => run(tree, entry);
}

/** The request's ?filter=, compiled against the endpoint's sample entry; undefined when absent. */
export function filterOf(c: Ctx, sample: () => unknown): Filter | undefined {
  const expression = query(c).get("filter");
  return expression ? compileFilter(expression, sample()) : undefined;
}
