/** Loudness bars (0–255 each); those before `progress` (0–1) are drawn as played. */
export function Waveform(props: { samples: ArrayLike<number>; progress?: number; bars?: number; className?: string }) {
  const bars = props.bars ?? 48;
  const src = props.samples;
  const values: number[] = [];
  for (let i = 0; i < bars; i++) {
    if (src.length === 0) {
      values.push(0);
      continue;
    }
    const from = Math.floor((i * src.length) / bars);
    const to = Math.max(from + 1, Math.floor(((i + 1) * src.length) / bars));
    let m = 0;
    for (let j = from; j < to && j < src.length; j++) m = Math.max(m, src[j] ?? 0);
    values.push(m / 255);
  }
  const played = Math.round((props.progress ?? 0) * bars);
  const w = bars * 3;
  return (
    <svg className={`waveform${props.className === undefined ? '' : ` ${props.className}`}`} viewBox={`0 0 ${w} 24`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
      {values.map((v, i) => {
        const h = Math.max(2, v * 22);
        return <rect key={i} x={i * 3} y={(24 - h) / 2} width={2} height={h} rx={1} className={i < played ? 'played' : undefined} />;
      })}
    </svg>
  );
}
