// ?filter= for the embedded registry: a subset of Consul's boolean expressions (go-bexpr),
// evaluated on the very JSON entries an endpoint answers, so selectors are that endpoint's
// field names (ServiceName, ServiceTags, ServiceMeta.version, Service.Tags, Node.Meta.x, …).
//
// Supported: `Sel == v`, `Sel != v`, `Sel contains v`, `Sel not contains v`, `v in Sel`,
// `v not in Sel`, `Sel matches "re"`, `Sel not matches "re"`, `Sel is empty`, `Sel is not empty`,
// combined with `and`, `or`, `not` and parentheses. Values: "double-quoted" (with \ escapes),
// `raw`, or a bare word. A selector goes through objects with `.` (or `["key"]` for map keys);
// lists (such as a health entry's Checks) cannot be entered. Anything else is a 400.

import { QueryError } from "./consul-query.ts";

export type Filter = (entry: unknown) => boolean;

type Tok = { t: "word" | "str" | "(" | ")" | "==" | "!=" | "[" | "]"; v: string; at: number };

const PREFIX = "Failed to create boolean expression evaluator";
const SUPPORTED = "supported: ==, !=, contains, in, matches, is empty, with and/or/not and parentheses";

function fail(msg: string): never {
  throw new QueryError(400, `${PREFIX}: ${msg} (${SUPPORTED})`);
}

/** Escapes of a "double-quoted" value (Go's strconv.Unquote, less \x, \u and octal). */
const ESCAPES = new Map([
  ["n", "\n"],
  ["t", "\t"],
  ["r", "\r"],
  ["a", "\x07"],
  ["b", "\b"],
  ["f", "\f"],
  ["v", "\v"],
  ["\\", "\\"],
  ['"', '"'],
  ["'", "'"],
]);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "(" || ch === ")" || ch === "[" || ch === "]") {
      out.push({ t: ch, v: ch, at: i++ });
    } else if (src.startsWith("==", i) || src.startsWith("!=", i)) {
      out.push({ t: src.slice(i, i + 2) as "==" | "!=", v: src.slice(i, i + 2), at: i });
      i += 2;
    } else if (ch === '"') {
      let v = "";
      let j = i + 1;
      for (; j < src.length && src[j] !== '"'; j++) {
        if (src[j] === "\\" && j + 1 < src.length) {
          const e = src[++j]!;
          const decoded = ESCAPES.get(e);
          if (decoded === undefined) fail(`invalid escape "\\${e}" at position ${j}; write \\\\ for a backslash, or use a \`raw\` string`);
          v += decoded;
        } else v += src[j];
      }
      if (j >= src.length) fail(`unterminated string starting at position ${i + 1}`);
      out.push({ t: "str", v, at: i });
      i = j + 1;
    } else if (ch === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) fail(`unterminated string starting at position ${i + 1}`);
      out.push({ t: "str", v: src.slice(i + 1, end), at: i });
      i = end + 1;
    } else {
      const m = /^[^\s()"`=!\[\]]+/.exec(src.slice(i));
      if (!m) fail(`unexpected "${ch}" at position ${i + 1}`);
      out.push({ t: "word", v: m[0], at: i });
      i += m[0].length;
    }
  }
  return out;
}

/** A compiled `matches` pattern: true when it matches anywhere in the text, as Go's MatchString. */
type Pattern = { test(text: string): boolean };

/**
 * Consul's `matches` is Go's regexp, which is RE2: linear time, no backreferences or lookaround.
 * re2js is the same engine in JavaScript, so a pattern means here what it means to Consul and no
 * pattern can stall the daemon. Loaded on the first filter that uses `matches` (most never do).
 */
let re2: typeof import("re2js").RE2JS | undefined;

/** Loads the regular expression engine when `expr` may use `matches`; call before compileFilter. */
export async function loadFilterEngine(expr: string | null | undefined): Promise<void> {
  if (!re2 && expr && /\bmatches\b/.test(expr)) re2 = (await import("re2js")).RE2JS;
}

function compilePattern(value: string): Pattern {
  if (!re2) throw new Error("consul-filter: loadFilterEngine() must run before a filter with matches is compiled");
  try {
    return re2.compile(value);
  } catch (e) {
    // RE2's own words, as Consul answers (`error parsing regexp: invalid escape sequence: \1`).
    fail(`"${value}" is not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`);
  }
}

type Node =
  | { k: "and" | "or"; a: Node; b: Node }
  | { k: "not"; a: Node }
  | { k: "op"; op: "==" | "!=" | "contains" | "matches" | "empty"; neg: boolean; sel: string[]; value: string; re?: Pattern };

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private isWord(v: string, ahead = 0): boolean {
    const t = this.toks[this.i + ahead];
    return t?.t === "word" && t.v === v;
  }
  private next(what: string): Tok {
    const t = this.toks[this.i++];
    if (!t) fail(`expected ${what} at the end of the expression`);
    return t;
  }
  parse(): Node {
    if (this.toks.length === 0) fail("the expression is empty");
    const n = this.or();
    const rest = this.peek();
    if (rest) fail(`unexpected "${rest.v}" at position ${rest.at + 1}`);
    return n;
  }
  private or(): Node {
    let a = this.and();
    while (this.isWord("or")) {
      this.i++;
      a = { k: "or", a, b: this.and() };
    }
    return a;
  }
  private and(): Node {
    let a = this.unary();
    while (this.isWord("and")) {
      this.i++;
      a = { k: "and", a, b: this.unary() };
    }
    return a;
  }
  private unary(): Node {
    if (this.isWord("not")) {
      this.i++;
      return { k: "not", a: this.unary() };
    }
    if (this.peek()?.t === "(") {
      this.i++;
      const n = this.or();
      const close = this.next('")"');
      if (close.t !== ")") fail(`expected ")" at position ${close.at + 1}, got "${close.v}"`);
      return n;
    }
    return this.match();
  }
  private value(): string {
    const t = this.next("a value");
    if (t.t !== "str" && t.t !== "word") fail(`expected a value at position ${t.at + 1}, got "${t.v}"`);
    return t.v;
  }
  private selector(): string[] {
    const t = this.next("a selector");
    if (t.t !== "word") fail(`expected a selector such as ServiceName at position ${t.at + 1}, got "${t.v}"`);
    const segs = t.v.split(".");
    if (segs.some((s) => s === "")) fail(`selector "${t.v}" is not valid`);
    while (this.peek()?.t === "[") {
      this.i++;
      const key = this.next("a map key");
      if (key.t !== "str") fail(`expected a quoted map key at position ${key.at + 1}`);
      const close = this.next('"]"');
      if (close.t !== "]") fail(`expected "]" at position ${close.at + 1}`);
      segs.push(key.v);
    }
    return segs;
  }
  private match(): Node {
    // `value [not] in Selector`
    const inAt = this.isWord("in", 1) ? 1 : this.isWord("not", 1) && this.isWord("in", 2) ? 2 : 0;
    if (inAt) {
      const value = this.value();
      this.i += inAt;
      return { k: "op", op: "contains", neg: inAt === 2, sel: this.selector(), value };
    }
    const sel = this.selector();
    const t = this.next("an operator");
    if (t.t === "==" || t.t === "!=") return { k: "op", op: "==", neg: t.t === "!=", sel, value: this.value() };
    let neg = false;
    let op = t.v;
    if (t.t === "word" && op === "not") {
      neg = true;
      op = this.next("an operator").v;
    }
    if (op === "contains") return { k: "op", op: "contains", neg, sel, value: this.value() };
    if (op === "matches") {
      const value = this.value();
      const re = compilePattern(value);
      return { k: "op", op: "matches", neg, sel, value, re };
    }
    if (op === "is" && !neg) {
      let n = false;
      if (this.isWord("not")) {
        this.i++;
        n = true;
      }
      const e = this.next('"empty"');
      if (e.v !== "empty") fail(`expected "empty" after "is" at position ${e.at + 1}`);
      return { k: "op", op: "empty", neg: n, sel, value: "" };
    }
    fail(`unsupported operator "${op}" after selector "${sel.join(".")}"`);
  }
}

const MISSING = Symbol("missing");
class BadSelector {
  constructor(readonly error: string) {}
}
const isMapField = (name: string) => /(Meta|TaggedAddresses)$/.test(name);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The value at `sel` in `entry`; MISSING for an absent map key; a string error for a bad selector. */
function resolve(entry: unknown, sel: string[]): unknown {
  let cur = entry;
  for (let i = 0; i < sel.length; i++) {
    const seg = sel[i]!;
    const parent = sel[i - 1] ?? "";
    if (Array.isArray(cur)) return new BadSelector(`"${sel.slice(0, i).join(".")}" is a list; filtering inside it is not supported`);
    if (cur === null || cur === undefined || cur === MISSING) return MISSING;
    if (!isRecord(cur)) return new BadSelector(`"${sel.slice(0, i).join(".")}" has no fields`);
    if (Object.hasOwn(cur, seg)) cur = cur[seg];
    else if (i > 0 && isMapField(parent)) cur = MISSING;
    else {
      const fields = Object.keys(cur).join(", ");
      return new BadSelector(`selector "${sel.join(".")}" is not valid; fields here: ${fields}`);
    }
  }
  return cur;
}

/** Checks selectors and operator/type pairs against a sample entry of the endpoint. */
function validate(n: Node, sample: unknown): void {
  if (n.k === "not") return validate(n.a, sample);
  if (n.k !== "op") {
    validate(n.a, sample);
    validate(n.b, sample);
    return;
  }
  const v = resolve(sample, n.sel);
  if (v instanceof BadSelector) fail(v.error);
  const name = n.sel.join(".");
  if (n.op === "==" && (Array.isArray(v) || (isRecord(v) && isMapField(n.sel.at(-1) ?? "")))) {
    fail(`selector "${name}" is a collection; use "contains" or "in" instead of ${n.neg ? "!=" : "=="}`);
  }
  if (n.op === "==" && typeof v === "number" && !/^-?\d+(\.\d+)?$/.test(n.value)) fail(`"${n.value}" is not a number, as "${name}" is`);
  if (n.op === "==" && typeof v === "boolean" && !["true", "false"].includes(n.value)) fail(`"${n.value}" is not true or false, as "${name}" is`);
  if (n.op === "matches" && (Array.isArray(v) || isRecord(v))) fail(`selector "${name}" is not a string; "matches" needs one`);
}

function evaluate(n: Node, entry: unknown): boolean {
  switch (n.k) {
    case "and":
      return evaluate(n.a, entry) && evaluate(n.b, entry);
    case "or":
      return evaluate(n.a, entry) || evaluate(n.b, entry);
    case "not":
      return !evaluate(n.a, entry);
  }
  const v = resolve(entry, n.sel);
  if (v instanceof BadSelector) return false;
  let r: boolean;
  if (n.op === "empty") {
    r = v === MISSING || v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);
  } else if (v === MISSING || v === null || v === undefined) {
    r = false;
  } else if (n.op === "==") {
    r = typeof v === "number" ? v === Number(n.value) : String(v) === n.value;
  } else if (n.op === "contains") {
    r = Array.isArray(v) ? v.some((x) => String(x) === n.value) : isRecord(v) ? Object.hasOwn(v, n.value) : String(v).includes(n.value);
  } else {
    r = typeof v === "string" && n.re!.test(v);
  }
  return n.neg ? !r : r;
}

/**
 * Compiles `expr` for entries shaped like `sample` (one rendered entry of the endpoint, used to
 * check selectors even when there is nothing to filter). Throws QueryError 400 on anything
 * outside the subset.
 */
export function compileFilter(expr: string, sample: unknown): Filter {
  const tree = new Parser(tokenize(expr)).parse();
  validate(tree, sample);
  return (entry) => evaluate(tree, entry);
}

/** The ?filter= of a query compiled for `sample`, or undefined when absent or empty (after loadFilterEngine). */
export function queryFilter(q: URLSearchParams, sample: () => unknown): Filter | undefined {
  const expr = q.get("filter");
  return expr ? compileFilter(expr, sample()) : undefined;
}
