/** A small Prometheus text-format registry: counters, gauges and histograms with labels. */

type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (l: Labels) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};
const keyOf = (l: Labels) => JSON.stringify(Object.entries(l).sort());

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

export class Counter implements Family {
  readonly type = "counter";
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const v = this.values.get(k) ?? { labels, value: 0 };
    v.value += by;
    this.values.set(k, v);
  }
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }
  render(): string[] {
    return [...this.values.values()].map((v) => `${this.name}${labelText(v.labels)} ${v.value}`);
  }
}

/** A gauge read when rendered: one value, or one per label set. */
export class Gauge implements Family {
  readonly type = "gauge";
  constructor(readonly name: string, readonly help: string, private readonly read: () => number | Array<[Labels, number]>) {}
  render(): string[] {
    const v = this.read();
    return typeof v === "number" ? [`${this.name} ${v}`] : v.map(([l, n]) => `${this.name}${labelText(l)} ${n}`);
  }
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram implements Family {
  readonly type = "histogram";
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets = BUCKETS) {}
  observe(labels: Labels, seconds: number): void {
    const k = keyOf(labels);
    const s = this.series.get(k) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((b, i) => {
      if (seconds <= b) s.counts[i]!++;
    });
    s.sum += seconds;
    s.count++;
    this.series.set(k, s);
  }
  render(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Metrics {
  private families: Family[] = [];
  readonly events = this.add(new Counter("registrator_docker_events_total", "Docker container events received, by action"));
  readonly registrations = this.add(new Counter("registrator_registrations_total", "Service registrations, by outcome and registry"));
  readonly deregistrations = this.add(new Counter("registrator_deregistrations_total", "Service deregistrations, by outcome and registry"));
  readonly registryLatency = this.add(new Histogram("registrator_registry_request_duration_seconds", "Registry request latency, by backend, operation and registry"));
  readonly dockerReconnects = this.add(new Counter("registrator_docker_reconnects_total", "Reconnections to the Docker event stream"));
  readonly eventClientsRejected = this.add(new Counter("registrator_event_stream_rejected_total", "/v1/events clients dropped for not reading (slow) or refused over the limit (over-limit)"));

  add<T extends Family>(f: T): T {
    this.families.push(f);
    return f;
  }

  gauge(name: string, help: string, read: () => number | Array<[Labels, number]>): void {
    this.add(new Gauge(name, help, read));
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.families) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.render());
    }
    return lines.join("\n") + "\n";
  }
}
