import type { Metric, Registry } from 'prom-client';

/** One series' labels: fixed when the metric is made, never taken from a request. */
export type LabelSet = Readonly<Record<string, string>>;

interface Sample {
  value: number;
  labels: LabelSet;
  metricName?: string;
}

/**
 * Counters and histograms whose series are all known when they are made (a
 * closed set of label values), kept in typed arrays. Counting is an array
 * increment: no label object, no hashing, nothing allocated on the message
 * path — prom-client's own metrics hash their labels on every call. They
 * implement the part of prom-client's metric interface its Registry reads
 * (`get`, `reset`, name, help, type), so they are exposed with everything else.
 */
abstract class ClosedMetric {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram' | 'gauge';

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  abstract samples(): Sample[];
  abstract reset(): void;

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }

  /** Adds this metric to a prom-client registry. */
  registerIn(registry: Registry): this {
    // The Registry reads only name, type, get() and reset(); its type names prom-client's own classes.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** A counter with one series per label set; `inc(i)` counts in series i. */
export class ClosedCounter extends ClosedMetric {
  readonly type = 'counter';
  private readonly counts: Float64Array;

  constructor(
    name: string,
    help: string,
    private readonly series: readonly LabelSet[] = [{}],
    /** Series still at zero are left out (for large, sparse sets such as routes × status classes). */
    private readonly skipZeros = false,
  ) {
    super(name, help);
    this.counts = new Float64Array(series.length);
  }

  inc(i = 0, by = 1): void {
    this.counts[i] = (this.counts[i] ?? 0) + by;
  }

  /** For counts kept elsewhere (read when scraped): sets series i to `total`. */
  set(i: number, total: number): void {
    this.counts[i] = total;
  }

  value(i = 0): number {
    return this.counts[i] ?? 0;
  }

  get size(): number {
    return this.counts.length;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    this.series.forEach((labels, i) => {
      const value = this.counts[i] ?? 0;
      if (value !== 0 || !this.skipZeros) out.push({ value, labels });
    });
    return out;
  }

  reset(): void {
    this.counts.fill(0);
  }
}

/** A gauge without labels whose value is set when scraped or as things happen. */
export class ClosedGauge extends ClosedMetric {
  readonly type = 'gauge';
  private current = 0;

  constructor(
    name: string,
    help: string,
    private readonly labels: LabelSet = {},
  ) {
    super(name, help);
  }

  set(value: number): void {
    this.current = value;
  }

  samples(): Sample[] {
    return [{ value: this.current, labels: this.labels }];
  }

  reset(): void {
    this.current = 0;
  }
}

/**
 * A histogram without labels over fixed bucket bounds (seconds, ascending).
 * Counts are kept per bucket and summed into Prometheus' cumulative `le`
 * buckets only when scraped.
 */
export class ClosedHistogram extends ClosedMetric {
  readonly type = 'histogram';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help);
    for (let i = 1; i < bounds.length; i++) if ((bounds[i] ?? 0) <= (bounds[i - 1] ?? 0)) throw new Error(`${name}: buckets must ascend`);
    // One slot per bound, and one for values above the last (+Inf).
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const v = seconds > 0 ? seconds : 0;
    let i = 0;
    const n = this.bounds.length;
    while (i < n && v > (this.bounds[i] ?? Infinity)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
    this.count++;
  }

  get observations(): number {
    return this.count;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i] ?? 0;
      out.push({ metricName: `${this.name}_bucket`, labels: { le: String(le) }, value: cumulative });
    });
    out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count });
    out.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    out.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** Every combination of the given closed label sets, in order (the last label varies fastest). */
export function labelProduct(labels: ReadonlyArray<readonly [name: string, values: readonly string[]]>): LabelSet[] {
  let out: Array<Record<string, string>> = [{}];
  for (const [name, values] of labels) out = out.flatMap((base) => values.map((v) => ({ ...base, [name]: v })));
  return out;
}
