// Helper functions of the -tags templates, and how template values become text.
//
// Arguments follow Go's text/template: in a pipeline `{{ x | f a b }}` the piped value x becomes
// the LAST argument, `f a b x`. Helpers that take one list or map find it by type, so both
// `{{ sIndex .Config.Env 0 }}` and `{{ .Config.Env | sIndex 0 }}` work; string-only helpers are
// positional, exactly as written below.
//
//   index C k...              Go's builtin: C[k] for each key in turn; a missing map key is empty,
//                             an out-of-range list index is an error
//   len C                     length of a string, list or map
//   strSlice L start [end]    L[start:end] of a list (or string), bounds clamped
//   sIndex L i                element i of list L (negative counts from the end), "" if none
//   mIndex M key              value of key in map M, "" if none
//   toUpper s / toLower s     case conversion
//   replace s old new n       Go's strings.Replace (n < 0: all)
//   replace old new s         all occurrences (pipeline form: `{{ .X | replace "a" "b" }}`)
//   join L sep                the elements of L joined with sep
//   split s sep               Go's strings.Split: a list ("" sep: one element per character)
//   splitIndex s sep i        element i of `split s sep`, "" if none
//   matchFirstElement L re    first element of L matching the regular expression re, "" if none
//   matchAllElements L re     the elements of L matching re (a list)
//   jsonParse s [key...]      parse the JSON text s, then walk into it by keys (like index)
//
// Not provided: registrator's `httpGet` (a network call per container while registering).
// Rendering: strings as they are; numbers and booleans as text; null or missing values as ""
// (not Go's "<no value>"); lists as their rendered elements joined with "," (so each element
// becomes its own tag); maps as JSON.

export class TemplateError extends Error {
  override name = "TemplateError";
}

type Helper = { min: number; max: number; fn: (...args: unknown[]) => unknown };

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function renderValue(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return v.map(renderValue).join(",");
  return JSON.stringify(v);
}

function str(v: unknown, what: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new TemplateError(`${what} needs a string, got ${describe(v)}`);
}

function int(v: unknown, what: string): number {
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n === "number" && Number.isInteger(n)) return n;
  throw new TemplateError(`${what} needs an integer, got ${describe(v)}`);
}

/**
 * Go's strings.Replace: the first `n` non-overlapping occurrences of `old` (all when n < 0). An empty
 * `old` matches before each character (code point, as Go's runes) and at the end, so at most
 * characters + 1 times whatever `n` says. Linear in the input and output.
 */
export function goReplace(s: string, old: string, neu: string, n: number): string {
  if (old === neu || n === 0) return s;
  if (old === "") {
    const chars = Array.from(s);
    const k = n < 0 ? chars.length + 1 : Math.min(n, chars.length + 1);
    const out: string[] = [];
    for (let i = 0; i < chars.length; i++) {
      if (i < k) out.push(neu);
      out.push(chars[i]!);
    }
    if (k === chars.length + 1) out.push(neu);
    return out.join("");
  }
  const parts = s.split(old);
  const m = parts.length - 1;
  const k = n < 0 ? m : Math.min(n, m);
  if (k === m) return parts.join(neu);
  return `${parts.slice(0, k + 1).join(neu)}${old}${parts.slice(k + 1).join(old)}`;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "no value";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `${typeof v} ${JSON.stringify(v)}`;
}

/** The single list (or map) argument, wherever it is, and the other arguments in order. */
function split1<T>(args: unknown[], test: (v: unknown) => v is T, what: string): [T, unknown[]] {
  const i = args.findIndex(test);
  if (i < 0) throw new TemplateError(`${what} needs a ${what === "mIndex" ? "map" : "list"} argument`);
  return [args[i] as T, args.filter((_, j) => j !== i)];
}
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

function own(m: Record<string, unknown>, k: string): unknown {
  return Object.hasOwn(m, k) ? m[k] : undefined;
}

function step(c: unknown, key: unknown, what: string): unknown {
  if (c === undefined || c === null) return undefined;
  if (Array.isArray(c)) {
    const i = int(key, what);
    if (i < 0 || i >= c.length) throw new TemplateError(`${what}: index ${i} out of range (length ${c.length})`);
    return c[i];
  }
  if (isMap(c)) return own(c, str(key, what));
  throw new TemplateError(`${what}: cannot index ${describe(c)}`);
}

function regex(pattern: unknown, what: string): RegExp {
  const p = str(pattern, what);
  try {
    return new RegExp(p);
  } catch {
    throw new TemplateError(`${what}: invalid regular expression ${JSON.stringify(p)}`);
  }
}

const goSplit = (s: string, sep: string): string[] => (sep === "" ? Array.from(s) : s.split(sep));

export const HELPERS: ReadonlyMap<string, Helper> = new Map<string, Helper>([
  ["index", { min: 1, max: Infinity, fn: (c, ...keys) => keys.reduce((v, k) => step(v, k, "index"), c) }],
  [
    "len",
    {
      min: 1,
      max: 1,
      fn: (v) => {
        if (typeof v === "string" || Array.isArray(v)) return v.length;
        if (isMap(v)) return Object.keys(v).length;
        throw new TemplateError(`len: cannot take the length of ${describe(v)}`);
      },
    },
  ],
  [
    "strSlice",
    {
      min: 2,
      max: 3,
      fn: (...args) => {
        const i = args.findIndex((a) => Array.isArray(a) || typeof a === "string");
        if (i < 0) throw new TemplateError("strSlice needs a list argument");
        const c = args[i] as unknown[] | string;
        const [start, end] = args.filter((_, j) => j !== i).map((a) => int(a, "strSlice"));
        return c.slice(Math.max(0, start ?? 0), end === undefined ? undefined : Math.max(0, end));
      },
    },
  ],
  [
    "sIndex",
    {
      min: 2,
      max: 2,
      fn: (...args) => {
        const [list, [i]] = split1(args, isList, "sIndex");
        return list.at(int(i, "sIndex")) ?? "";
      },
    },
  ],
  [
    "mIndex",
    {
      min: 2,
      max: 2,
      fn: (...args) => {
        const [m, [k]] = split1(args, isMap, "mIndex");
        return own(m, str(k, "mIndex")) ?? "";
      },
    },
  ],
  ["toUpper", { min: 1, max: 1, fn: (s) => str(s, "toUpper").toUpperCase() }],
  ["toLower", { min: 1, max: 1, fn: (s) => str(s, "toLower").toLowerCase() }],
  [
    "replace",
    {
      min: 3,
      max: 4,
      fn: (...args) => {
        if (args.length === 3) return goReplace(str(args[2], "replace"), str(args[0], "replace"), str(args[1], "replace"), -1);
        const [s, old, neu] = args.slice(0, 3).map((a) => str(a, "replace")) as [string, string, string];
        return goReplace(s, old, neu, int(args[3], "replace"));
      },
    },
  ],
  [
    "join",
    {
      min: 2,
      max: 2,
      fn: (...args) => {
        const [list, [sep]] = split1(args, isList, "join");
        return list.map(renderValue).join(str(sep, "join"));
      },
    },
  ],
  ["split", { min: 2, max: 2, fn: (s, sep) => goSplit(str(s, "split"), str(sep, "split")) }],
  [
    "splitIndex",
    {
      min: 3,
      max: 3,
      fn: (...args) => {
        const ni = args.findIndex((a) => typeof a === "number");
        if (ni < 0) throw new TemplateError("splitIndex needs an integer index");
        const [s, sep] = args.filter((_, j) => j !== ni).map((a) => str(a, "splitIndex")) as [string, string];
        return goSplit(s, sep).at(int(args[ni], "splitIndex")) ?? "";
      },
    },
  ],
  [
    "matchFirstElement",
    {
      min: 2,
      max: 2,
      fn: (...args) => {
        const [list, [re]] = split1(args, isList, "matchFirstElement");
        const r = regex(re, "matchFirstElement");
        return list.map(renderValue).find((e) => r.test(e)) ?? "";
      },
    },
  ],
  [
    "matchAllElements",
    {
      min: 2,
      max: 2,
      fn: (...args) => {
        const [list, [re]] = split1(args, isList, "matchAllElements");
        const r = regex(re, "matchAllElements");
        return list.map(renderValue).filter((e) => r.test(e));
      },
    },
  ],
  [
    "jsonParse",
    {
      min: 1,
      max: Infinity,
      fn: (s, ...keys) => {
        let v: unknown;
        try {
          v = JSON.parse(str(s, "jsonParse"));
        } catch (e) {
          if (e instanceof TemplateError) throw e;
          throw new TemplateError(`jsonParse: ${JSON.stringify(s)} is not JSON`);
        }
        return keys.reduce((acc, k) => (Array.isArray(acc) && typeof k === "string" && /^\d+$/.test(k) ? step(acc, Number(k), "jsonParse") : step(acc, k, "jsonParse")), v);
      },
    },
  ],
]);
