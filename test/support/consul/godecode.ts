// Decodes a parsed JSON document into the shape of a zod schema with the rules of Go's
// encoding/json as Consul configures it (DisallowUnknownFields):
//   - struct keys match the Go field name exactly, else case-insensitively;
//   - an unknown key is `json: unknown field "X"`; a wrong type is an UnmarshalTypeError
//     (`json: cannot unmarshal string into Go struct field .Port of type int`);
//   - both are remembered (first one wins) while decoding carries on; null leaves a field unset;
//   - a struct with its own UnmarshalJSON (a "boundary": Consul's ServiceDefinition and CheckType)
//     decodes in a fresh scope; any error it returns aborts the outer decode at once, and a type
//     error from it is re-labelled with the outer field path, as Go's addErrorContext does.
//
// The zod schemas describe Go types: z.string / int() / z.boolean / z.array / z.record / z.object
// / z.unknown (interface{}), annotated through the `go` registry with Go type and struct names.

import { z } from "zod";
import { GoJsonError, type JValue, parseGoJson, setOwn, toPlain } from "./gojson.ts";

export interface GoMeta {
  /** The Go type as printed in type errors, e.g. "structs.CheckTypes", "types.CheckID". */
  type?: string;
  /** For structs: the struct's Go name used as the error context ("" for an anonymous aux struct). */
  struct?: string;
  /** The type has its own UnmarshalJSON; `finish` runs inside it after the fields decoded. */
  boundary?: { finish?: (value: Record<string, unknown>) => unknown };
  /** Accept any JSON object without looking inside (nested Consul types the emulator ignores). */
  opaque?: boolean;
}

export const go = z.registry<GoMeta>();

/** An error whose text is what the Go agent prints after "Request decode failed: ". */
export class GoDecodeError extends Error {}

/** Go's *json.UnmarshalTypeError. */
export class GoTypeError extends GoDecodeError {
  constructor(
    readonly value: string,
    readonly type: string,
    readonly struct?: string,
    readonly field?: string,
  ) {
    super(
      struct !== undefined && (struct !== "" || field !== "")
        ? `json: cannot unmarshal ${value} into Go struct field ${struct}.${field} of type ${type}`
        : `json: cannot unmarshal ${value} into Go value of type ${type}`,
    );
  }
}

/** An error returned by a nested UnmarshalJSON: it stops the whole decode. */
class Abort {
  constructor(readonly error: GoDecodeError) {}
}

interface Context {
  struct?: string;
  fields: string[];
}

interface Scope {
  saved?: GoDecodeError;
}

// Helpers that build annotated schemas. Each call makes a new schema so annotations never clash.
export const goString = (type = "string") => z.string().register(go, { type });
export const goInt = (type = "int") => z.number().int().register(go, { type });
export const goBool = () => z.boolean().register(go, { type: "bool" });
export const goAny = () => z.unknown().register(go, { type: "interface {}" });
export const goStrings = () => z.array(z.string().register(go, { type: "string" }));
export const goMap = <V extends z.ZodType>(value: V) => z.record(z.string(), value);
export const goOpaque = (type: string) => z.unknown().register(go, { type, opaque: true });
export function goStruct<S extends z.ZodRawShape>(struct: string, type: string, shape: S, extra: GoMeta = {}) {
  return z.object(shape).partial().register(go, { ...extra, struct, type });
}

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? unwrap(schema.unwrap() as z.ZodType) : schema;
}

/** The Go type name of a schema, for error messages. */
function typeName(schema: z.ZodType): string {
  const s = unwrap(schema);
  const named = go.get(s)?.type;
  if (named) return named;
  if (s instanceof z.ZodArray) return `[]${typeName(s.element as z.ZodType)}`;
  if (s instanceof z.ZodRecord) return `map[string]${typeName(s.valueType as z.ZodType)}`;
  if (s instanceof z.ZodString) return "string";
  if (s instanceof z.ZodBoolean) return "bool";
  if (s instanceof z.ZodNumber) return "int";
  return "interface {}";
}

function jsonKind(v: JValue): string {
  return v.kind === "bool" ? "bool" : v.kind;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

class Decoder {
  private mismatch(scope: Scope, ctx: Context, value: string, schema: z.ZodType): undefined {
    const inStruct = ctx.struct !== undefined || ctx.fields.length > 0;
    scope.saved ??= inStruct
      ? new GoTypeError(value, typeName(schema), ctx.struct ?? "", ctx.fields.join("."))
      : new GoTypeError(value, typeName(schema));
    return undefined;
  }

  value(schema: z.ZodType, v: JValue, ctx: Context, scope: Scope, isRoot = false): unknown {
    if (v.kind === "null") return undefined;
    const s = unwrap(schema);
    const meta = go.get(s);
    if (meta?.boundary && !isRoot) {
      const result = this.root(s, v);
      if (result.ok) return result.value;
      let err = result.error;
      if (err instanceof GoTypeError && (ctx.struct !== undefined || ctx.fields.length > 0)) {
        err = new GoTypeError(err.value, err.type, ctx.struct ?? "", ctx.fields.join("."));
      }
      throw new Abort(err);
    }
    if (meta?.opaque) return v.kind === "object" ? toPlain(v) : this.mismatch(scope, ctx, jsonKind(v), s);
    if (s instanceof z.ZodObject) return this.struct(s, meta, v, ctx, scope);
    if (s instanceof z.ZodArray) {
      if (v.kind !== "array") return this.mismatch(scope, ctx, jsonKind(v), s);
      return v.items.map((item) => this.value(s.element as z.ZodType, item, ctx, scope));
    }
    if (s instanceof z.ZodRecord) {
      if (v.kind !== "object") return this.mismatch(scope, ctx, jsonKind(v), s);
      const out: Record<string, unknown> = {};
      for (const [k, item] of v.entries) setOwn(out, k, this.value(s.valueType as z.ZodType, item, ctx, scope));
      return out;
    }
    if (s instanceof z.ZodString) return v.kind === "string" ? v.value : this.mismatch(scope, ctx, jsonKind(v), s);
    if (s instanceof z.ZodBoolean) return v.kind === "bool" ? v.value : this.mismatch(scope, ctx, jsonKind(v), s);
    if (s instanceof z.ZodNumber) {
      if (v.kind !== "number") return this.mismatch(scope, ctx, jsonKind(v), s);
      if (!/^-?\d+$/.test(v.raw)) return this.mismatch(scope, ctx, `number ${v.raw}`, s);
      const n = BigInt(v.raw);
      if (n < INT64_MIN || n > INT64_MAX) return this.mismatch(scope, ctx, `number ${v.raw}`, s);
      return Number(n);
    }
    return toPlain(v); // interface{}
  }

  private struct(s: z.ZodObject, meta: GoMeta | undefined, v: JValue, ctx: Context, scope: Scope): unknown {
    if (v.kind !== "object") return this.mismatch(scope, ctx, jsonKind(v), s);
    const shape = s.shape as Record<string, z.ZodType>;
    const names = Object.keys(shape);
    const out: Record<string, unknown> = {};
    for (const [key, item] of v.entries) {
      const name = names.includes(key) ? key : names.find((n) => n.toLowerCase() === key.toLowerCase());
      const field = name === undefined ? undefined : shape[name];
      if (name === undefined || field === undefined) {
        scope.saved ??= new GoDecodeError(`json: unknown field ${JSON.stringify(key)}`);
        continue;
      }
      const decoded = this.value(field, item, { struct: meta?.struct ?? "", fields: [...ctx.fields, name] }, scope);
      const previous = out[name];
      // Go decodes a repeated key into the same field: maps merge, everything else is replaced.
      if (decoded !== undefined && isRecord(previous) && isRecord(decoded) && unwrap(field) instanceof z.ZodRecord) {
        for (const [k, val] of Object.entries(decoded)) setOwn(previous, k, val);
      } else if (decoded !== undefined) {
        out[name] = decoded;
      }
    }
    return out;
  }

  /** Decodes a value in a fresh scope, as a Go UnmarshalJSON method (or the top-level Decode) does. */
  root(schema: z.ZodType, v: JValue): { ok: true; value: unknown } | { ok: false; error: GoDecodeError } {
    const scope: Scope = {};
    try {
      const decoded = this.value(schema, v, { fields: [] }, scope, true);
      if (scope.saved) return { ok: false, error: scope.saved };
      // A null document leaves a struct at its zero value.
      const value = decoded === undefined && unwrap(schema) instanceof z.ZodObject ? {} : decoded;
      const finish = go.get(unwrap(schema))?.boundary?.finish;
      return { ok: true, value: finish && isRecord(value) ? finish(value) : value };
    } catch (e) {
      if (e instanceof Abort) return { ok: false, error: e.error };
      if (e instanceof GoDecodeError) return { ok: false, error: e };
      throw e;
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Decodes request body text into `schema` like Consul's decodeBody. Returns the decoded value
 * (after the boundary's finish hook) or throws GoDecodeError with Go's text. `null` gives the zero value.
 */
export function decodeGoBody<T>(schema: z.ZodType, text: string): T {
  let doc: JValue;
  try {
    doc = parseGoJson(text);
  } catch (e) {
    throw e instanceof GoJsonError ? new GoDecodeError(e.message) : e;
  }
  const result = new Decoder().root(schema, doc);
  if (!result.ok) throw result.error;
  return result.value as T;
}
