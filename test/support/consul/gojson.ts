// A JSON reader that fails like Go's encoding/json Decoder, so the emulator can answer
// "Request decode failed: <Go error>" with the agent's exact text.
//
// Go's Decoder reads exactly one value and ignores whatever follows it; empty input is "EOF",
// input that ends inside a value is "unexpected EOF", and a bad byte is described by the
// scanner state it was found in ("invalid character 'x' looking for beginning of value").
// Numbers keep their literal text because Go quotes it in type errors ("number 1.5").

export type JValue =
  | { kind: "object"; entries: Array<[string, JValue]> }
  | { kind: "array"; items: JValue[] }
  | { kind: "string"; value: string }
  | { kind: "number"; raw: string }
  | { kind: "bool"; value: boolean }
  | { kind: "null" };

/** A decode failure carrying Go's error text. */
export class GoJsonError extends Error {}

const EOF = "EOF";
const UNEXPECTED_EOF = "unexpected EOF";

/** Go's strconv.Quote for one character, as the scanner prints it: 'x', '\n', '\x01', '\''. */
export function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const named: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\" };
  const n = named[c];
  if (n) return `'${n}'`;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, "0")}'`;
  return `'${c}'`;
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

class Reader {
  pos = 0;
  constructor(private readonly text: string) {}

  peek(): string | undefined {
    return this.text[this.pos];
  }

  next(): string {
    const c = this.text[this.pos++];
    if (c === undefined) throw new GoJsonError(UNEXPECTED_EOF);
    return c;
  }

  skipSpace(): void {
    while (isSpace(this.peek())) this.pos++;
  }

  fail(c: string, context: string): never {
    throw new GoJsonError(`invalid character ${quoteChar(c)} ${context}`);
  }

  value(): JValue {
    this.skipSpace();
    const c = this.next();
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return { kind: "string", value: this.string() };
    if (c === "-" || (c >= "0" && c <= "9")) return { kind: "number", raw: this.number(c) };
    if (c === "t") return this.literal("true", { kind: "bool", value: true });
    if (c === "f") return this.literal("false", { kind: "bool", value: false });
    if (c === "n") return this.literal("null", { kind: "null" });
    return this.fail(c, "looking for beginning of value");
  }

  private object(): JValue {
    const entries: Array<[string, JValue]> = [];
    this.skipSpace();
    let c = this.next();
    if (c === "}") return { kind: "object", entries };
    for (;;) {
      if (c !== '"') this.fail(c, "looking for beginning of object key string");
      const key = this.string();
      this.skipSpace();
      c = this.next();
      if (c !== ":") this.fail(c, "after object key");
      entries.push([key, this.value()]);
      this.skipSpace();
      c = this.next();
      if (c === "}") return { kind: "object", entries };
      if (c !== ",") this.fail(c, "after object key:value pair");
      this.skipSpace();
      c = this.next();
    }
  }

  private array(): JValue {
    const items: JValue[] = [];
    this.skipSpace();
    if (this.peek() === "]") {
      this.pos++;
      return { kind: "array", items };
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const c = this.next();
      if (c === "]") return { kind: "array", items };
      if (c !== ",") this.fail(c, "after array element");
    }
  }

  private string(): string {
    let out = "";
    for (;;) {
      const c = this.next();
      if (c === '"') return out;
      if (c === "\\") out += this.escape();
      else if (c < " ") this.fail(c, "in string literal");
      else out += c;
    }
  }

  private escape(): string {
    const c = this.next();
    const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
    const s = simple[c];
    if (s !== undefined) return s;
    if (c !== "u") return this.fail(c, "in string escape code");
    const unit = this.hex4();
    if (unit >= 0xd800 && unit < 0xdc00 && this.text.startsWith("\\u", this.pos)) {
      const save = this.pos;
      this.pos += 2;
      const low = this.hex4();
      if (low >= 0xdc00 && low < 0xe000) return String.fromCharCode(unit, low);
      this.pos = save; // not a pair: the lone half becomes U+FFFD, the next escape is read on its own
    }
    return unit >= 0xd800 && unit < 0xe000 ? "\ufffd" : String.fromCharCode(unit);
  }

  private hex4(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.next();
      const d = parseInt(c, 16);
      if (!/^[0-9a-fA-F]$/.test(c)) this.fail(c, "in \\u hexadecimal character escape");
      v = v * 16 + d;
    }
    return v;
  }

  private digits(): string {
    let s = "";
    for (let c = this.peek(); c !== undefined && c >= "0" && c <= "9"; c = this.peek()) s += this.next();
    return s;
  }

  /** Reads a number whose first character was consumed; stops before the first byte that cannot continue it. */
  private number(first: string): string {
    let raw = first;
    if (first === "-") {
      const c = this.next();
      if (c < "0" || c > "9") this.fail(c, "in numeric literal");
      raw += c;
      if (c !== "0") raw += this.digits();
    } else if (first !== "0") {
      raw += this.digits();
    }
    if (this.peek() === ".") {
      raw += this.next();
      const c = this.next();
      if (c < "0" || c > "9") this.fail(c, "after decimal point in numeric literal");
      raw += c + this.digits();
    }
    if (this.peek() === "e" || this.peek() === "E") {
      raw += this.next();
      let c = this.next();
      if (c === "+" || c === "-") {
        raw += c;
        c = this.next();
      }
      if (c < "0" || c > "9") this.fail(c, "in exponent of numeric literal");
      raw += c + this.digits();
    }
    return raw;
  }

  private literal(word: string, value: JValue): JValue {
    for (let i = 1; i < word.length; i++) {
      const c = this.next();
      if (c !== word[i]) this.fail(c, `in literal ${word} (expecting ${quoteChar(word[i] ?? "")})`);
    }
    return value;
  }
}

/**
 * Parses the first JSON value of `text` like Go's json.Decoder.Decode: trailing bytes are ignored.
 * Throws GoJsonError("EOF" | "unexpected EOF" | "invalid character …").
 */
export function parseGoJson(text: string): JValue {
  const r = new Reader(text);
  r.skipSpace();
  if (r.peek() === undefined) throw new GoJsonError(EOF);
  return r.value();
}

/** The plain JavaScript value of a parsed document (numbers as float64, like Go's interface{}). */
export function toPlain(v: JValue): unknown {
  switch (v.kind) {
    case "object": {
      const o: Record<string, unknown> = {};
      for (const [k, item] of v.entries) setOwn(o, k, toPlain(item));
      return o;
    }
    case "array":
      return v.items.map(toPlain);
    case "string":
      return v.value;
    case "number":
      return Number(v.raw);
    case "bool":
      return v.value;
    case "null":
      return null;
  }
}

/** Assigns a key as an own data property, so keys such as "__proto__" survive. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
