import { useEffect, useRef, useState } from 'react';
import { Icon } from '../../components/Dialog';
import { formatDuration } from '../../lib/format';
import { Waveform } from './Waveform';

/**
 * An inline voice message: play/pause, the waveform as the progress bar
 * (a range input over it seeks), elapsed / total time. The audio is read
 * (kept copy first, else downloaded and decrypted) on the first play, as an
 * object URL that the attachment cache owns.
 */
export function VoicePlayer(props: { load: () => Promise<string>; durationMs: number; waveform: Uint8Array; describeError: (err: unknown) => string }) {
  const audio = useRef<HTMLAudioElement | null>(null);
  const [state, setState] = useState<'idle' | 'loading' | 'playing' | 'paused'>('idle');
  const [position, setPosition] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const total = props.durationMs;

  useEffect(() => () => audio.current?.pause(), []);

  // Follow playback smoothly while playing.
  useEffect(() => {
    if (state !== 'playing') return;
    let raf = 0;
    const step = () => {
      const a = audio.current;
      if (a !== null) setPosition(Math.min(total, a.currentTime * 1000));
      raf = requestAnimationFrame(step);
    };
    raf = requestAnimationFrame(step);
    return () => cancelAnimationFrame(raf);
  }, [state, total]);

  async function ensureAudio(): Promise<HTMLAudioElement> {
    if (audio.current !== null) return audio.current;
    setState('loading');
    const a = new Audio(await props.load());
    a.onended = () => {
      setState('paused');
      setPosition(0);
    };
    a.onpause = () => setState((s) => (s === 'playing' ? 'paused' : s));
    audio.current = a;
    return a;
  }

  async function toggle() {
    setError(null);
    try {
      const a = await ensureAudio();
      if (state === 'playing') {
        a.pause();
        setState('paused');
      } else {
        await a.play();
        setState('playing');
      }
    } catch (err) {
      setState('idle');
      setError(props.describeError(err));
    }
  }

  const progress = total > 0 ? position / total : 0;
  const playing = state === 'playing';
  return (
    <div className="voice-player">
      <button type="button" className="voice-play" aria-label={playing ? 'Pause voice message' : 'Play voice message'} onClick={() => void toggle()} disabled={state === 'loading'}>
        {state === 'loading' ? <span className="spinner small-spinner" /> : <Icon name={playing ? 'pause' : 'play'} size={18} />}
      </button>
      <span className="voice-track">
        <Waveform samples={props.waveform} progress={progress} bars={40} />
        <input
          type="range"
          className="voice-seek"
          aria-label="Playback position"
          min={0}
          max={total}
          step={100}
          value={Math.round(position)}
          aria-valuetext={`${formatDuration(position)} of ${formatDuration(total)}`}
          onChange={(e) => {
            const ms = Number(e.target.value);
            setPosition(ms);
            if (audio.current !== null) audio.current.currentTime = ms / 1000;
          }}
        />
        <span className="voice-progress" style={{ width: `${progress * 100}%` }} aria-hidden="true" />
      </span>
      <span className="voice-time">{error ?? (position > 0 ? `${formatDuration(position)} / ${formatDuration(total)}` : formatDuration(total))}</span>
    </div>
  );
}
