// Parser of the -tags template subset (see template.ts for the supported syntax).

import { HELPERS } from "./template-helpers.ts";

export type Operand =
  | { t: "field"; base?: Pipeline; path: string[] }
  | { t: "lit"; v: unknown }
  | { t: "fn"; name: string };
export type Command = Operand[];
export type Pipeline = Command[];
export type Part = string | Pipeline;

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"]);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", a: "\x07", b: "\b", f: "\f", v: "\v" };

export class Parser {
  i = 0;
  constructor(readonly src: string) {}

  fail(msg: string): never {
    throw new Error(`${msg} at offset ${this.i}`);
  }

  parse(): Part[] {
    const parts: Part[] = [];
    let trimNext = false;
    while (this.i < this.src.length) {
      const open = this.src.indexOf("{{", this.i);
      let text = this.src.slice(this.i, open < 0 ? undefined : open);
      if (trimNext) text = text.replace(/^\s+/, "");
      if (open < 0) {
        parts.push(text);
        break;
      }
      this.i = open + 2;
      if (this.src[this.i] === "-" && /\s/.test(this.src[this.i + 1] ?? "")) {
        text = text.replace(/\s+$/, "");
        this.i += 2;
      }
      parts.push(text);
      this.space();
      if (this.src.startsWith("/*", this.i)) {
        const close = this.src.indexOf("*/", this.i + 2);
        if (close < 0) this.fail("unclosed comment");
        this.i = close + 2;
        this.space();
        const trim = this.end();
        if (trim === undefined) this.fail("comment must end the action");
        trimNext = trim;
        continue;
      }
      const pipe = this.pipeline();
      const trim = this.end();
      if (trim === undefined) this.fail(this.i >= this.src.length ? "unclosed action" : `unexpected "${this.src[this.i]}"`);
      trimNext = trim;
      parts.push(pipe);
    }
    return parts;
  }

  space(): void {
    while (/\s/.test(this.src[this.i] ?? "")) this.i++;
  }

  /** Consumes `}}` or `-}}` (after whitespace); returns whether it trims, undefined if not at an end. */
  end(): boolean | undefined {
    if (this.src.startsWith("}}", this.i)) return (this.i += 2), false;
    if (this.src.startsWith("-}}", this.i) && /\s/.test(this.src[this.i - 1] ?? "")) return (this.i += 3), true;
    return undefined;
  }

  atBoundary(): boolean {
    const c = this.src[this.i];
    return c === undefined || c === "|" || c === ")" || this.src.startsWith("}}", this.i) || this.src.startsWith("-}}", this.i);
  }

  pipeline(): Pipeline {
    const cmds: Pipeline = [];
    for (;;) {
      const cmd: Command = [];
      this.space();
      while (!this.atBoundary()) {
        cmd.push(this.operand());
        this.space();
      }
      if (cmd.length === 0) this.fail("missing value in pipeline");
      cmds.push(cmd);
      if (this.src[this.i] !== "|") return cmds;
      this.i++;
    }
  }

  path(): string[] {
    const path: string[] = [];
    while (this.src[this.i] === ".") {
      this.i++;
      const m = IDENT.exec(this.src.slice(this.i));
      if (!m) {
        if (path.length > 0 || /[A-Za-z0-9_]/.test(this.src[this.i] ?? "")) this.fail("bad field name");
        break; // a lone "." is the container itself
      }
      path.push(m[0]);
      this.i += m[0].length;
    }
    return path;
  }

  operand(): Operand {
    const rest = this.src.slice(this.i);
    const c = rest[0];
    if (c === "(") {
      this.i++;
      const base = this.pipeline();
      if (this.src[this.i] !== ")") this.fail('missing ")"');
      this.i++;
      return { t: "field", base, path: this.path() };
    }
    if (c === '"') return { t: "lit", v: this.quoted() };
    if (c === "`") {
      const close = this.src.indexOf("`", this.i + 1);
      if (close < 0) this.fail("unterminated raw string");
      const v = this.src.slice(this.i + 1, close);
      this.i = close + 1;
      return { t: "lit", v };
    }
    const num = NUMBER.exec(rest);
    if (num && c !== ".") return (this.i += num[0].length), { t: "lit", v: Number(num[0]) };
    if (c === ".") return { t: "field", path: this.path() };
    if (c === "$") this.fail("variables are not supported");
    const id = IDENT.exec(rest);
    if (!id) this.fail(`unexpected "${c}"`);
    const name = id[0];
    this.i += name.length;
    if (name === "true" || name === "false") return { t: "lit", v: name === "true" };
    if (name === "nil") return { t: "lit", v: null };
    if (KEYWORDS.has(name)) this.fail(`"${name}" is not supported (only field paths, literals, helper calls and pipelines are)`);
    if (name === "httpGet") this.fail('"httpGet" is not supported (no network calls while registering)');
    if (!HELPERS.has(name)) this.fail(`unknown function "${name}" (known: ${[...HELPERS.keys()].join(", ")})`);
    return { t: "fn", name };
  }

  quoted(): string {
    let out = "";
    for (let j = this.i + 1; j < this.src.length; j++) {
      const ch = this.src[j] as string;
      if (ch === '"') return (this.i = j + 1), out;
      if (ch === "\n") break;
      if (ch !== "\\") {
        out += ch;
        continue;
      }
      const e = this.src[++j] ?? "";
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
      if (hex > 0) {
        const h = this.src.slice(j + 1, j + 1 + hex);
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== hex) this.fail("bad escape in string");
        out += String.fromCodePoint(parseInt(h, 16));
        j += hex;
      } else if (ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
      } else {
        this.fail(`unknown escape "\\${e}" in string`);
      }
    }
    this.fail("unterminated string");
  }
}

/** Checks arities and where functions may stand; throws a plain Error with the problem. */
export function check(pipe: Pipeline): void {
  pipe.forEach((cmd, k) => {
    const [head, ...args] = cmd;
    if (head?.t === "fn") {
      const h = HELPERS.get(head.name);
      const n = args.length + (k > 0 ? 1 : 0);
      if (h && (n < h.min || n > h.max)) {
        const want = h.max === Infinity ? `at least ${h.min}` : h.min === h.max ? `${h.min}` : `${h.min} to ${h.max}`;
        throw new Error(`"${head.name}" takes ${want} arguments, got ${n}`);
      }
    } else if (args.length > 0 || k > 0) {
      throw new Error("a value cannot take arguments (only functions can, e.g. \"toUpper\")");
    }
    for (const a of args) {
      if (a.t === "fn") throw new Error(`"${a.name}" needs arguments: write (${a.name} ...)`);
      if (a.t === "field" && a.base) check(a.base);
    }
    if (head?.t === "field" && head.base) check(head.base);
  });
}
