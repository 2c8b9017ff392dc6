/** Averages `levels` into at most `max` buckets and scales the loudest to 255. */
export function downsample(levels: readonly number[], max: number): Uint8Array {
  const n = Math.min(max, levels.length);
  const out = new Uint8Array(n);
  if (n === 0) return out;
  const per = levels.length / n;
  const sums: number[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor(i * per);
    const to = Math.max(from + 1, Math.floor((i + 1) * per));
    let s = 0;
    for (let j = from; j < to; j++) s += levels[j] ?? 0;
    sums.push(s / (to - from));
  }
  const peak = Math.max(...sums, 1e-6);
  for (let i = 0; i < n; i++) out[i] = Math.round(((sums[i] ?? 0) / peak) * 255);
  return out;
}
