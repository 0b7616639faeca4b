// Test-only npm packages that ship no type declarations.
declare module "parse-prometheus-text-format" {
  export interface PromMetric {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface PromFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: PromMetric[];
  }
  export default function parse(text: string): PromFamily[];
}
