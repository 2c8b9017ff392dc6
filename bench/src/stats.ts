/** Latency samples in milliseconds, summarised as percentiles. */
export class Latencies {
  private samples: number[] = [];

  add(ms: number): void {
    this.samples.push(ms);
  }

  get count(): number {
    return this.samples.length;
  }

  summary(): { p50: number; p90: number; p99: number; max: number } {
    const s = Float64Array.from(this.samples).sort();
    const at = (q: number) => (s.length === 0 ? NaN : round(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN));
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length === 0 ? NaN : round(s[s.length - 1] ?? NaN) };
  }
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}
