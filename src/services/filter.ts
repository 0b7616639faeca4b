// -filter: which containers registrator considers at all (parity.md "Which containers").
// Pure: evaluated on the inspect the bridge already holds, so filtering costs no Engine API call.

import type { ContainerInspect } from "../docker/schema.ts";

export interface ContainerFilter {
  /** The expression as the user wrote it (named when it leaves a container out). */
  expr: string;
  test(c: ContainerInspect): boolean;
}

export const FILTER_SYNTAX = "label=KEY, label=KEY=VALUE, label!=KEY, label!=KEY=VALUE, name=REGEX, network=NAME or image=REGEX";

function regex(expr: string, field: string, source: string): RegExp | string {
  if (source === "") return `"${expr}": ${field}= needs a regular expression, e.g. ${field}=^web`;
  try {
    return new RegExp(source);
  } catch (e) {
    return `"${expr}": ${JSON.stringify(source)} is not a valid regular expression (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** One `-filter` expression → a filter, or why it is not one. */
export function parseFilter(expr: string): ContainerFilter | { error: string } {
  const m = /^(label!=|label=|name=|network=|image=)(.*)$/s.exec(expr);
  if (!m) return { error: `"${expr}" is not a filter: expected ${FILTER_SYNTAX}` };
  const [, op, arg = ""] = m;
  switch (op) {
    case "label=":
    case "label!=": {
      const eq = arg.indexOf("=");
      const key = eq >= 0 ? arg.slice(0, eq) : arg;
      if (key === "") return { error: `"${expr}" names no label: expected ${op}KEY or ${op}KEY=VALUE` };
      const value = eq >= 0 ? arg.slice(eq + 1) : undefined;
      const has = (c: ContainerInspect): boolean => {
        const v = c.Config.Labels?.[key];
        return typeof v === "string" && (value === undefined || v === value);
      };
      return { expr, test: op === "label=" ? has : (c) => !has(c) };
    }
    case "name=": {
      const re = regex(expr, "name", arg);
      if (typeof re === "string") return { error: re };
      return { expr, test: (c) => re.test(c.Name.replace(/^\//, "")) };
    }
    case "image=": {
      const re = regex(expr, "image", arg);
      if (typeof re === "string") return { error: re };
      return { expr, test: (c) => re.test(c.Config.Image ?? "") };
    }
    default: {
      if (arg === "") return { error: `"${expr}" names no network: expected network=NAME` };
      return { expr, test: (c) => Object.hasOwn(c.NetworkSettings?.Networks ?? {}, arg) };
    }
  }
}

/** The first filter the container fails (all must match), or undefined when it passes every one. */
export function failingFilter(c: ContainerInspect, filters: readonly ContainerFilter[]): ContainerFilter | undefined {
  for (const f of filters) if (!f.test(c)) return f;
  return undefined;
}
