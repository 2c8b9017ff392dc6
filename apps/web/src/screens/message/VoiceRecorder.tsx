import { useEffect, useState } from 'react';
import { Icon } from '../../components/Dialog';
import { formatDuration } from '../../lib/format';
import type { VoiceRecording } from './voice-recording';
import { Waveform } from './Waveform';

/** Shown in place of the text box while recording: time, live loudness, cancel. The composer's Send sends it. */
export function VoiceRecorder(props: { recording: VoiceRecording; onCancel: () => void }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 100);
    return () => clearInterval(t);
  }, []);
  const live = props.recording.levels.slice(-48).map((l) => l * 255);
  return (
    <div className="voice-recorder" role="status" aria-label="Recording voice message">
      <button type="button" className="icon-button small" aria-label="Cancel recording" onClick={props.onCancel}>
        <Icon name="trash" size={18} />
      </button>
      <span className="rec-dot" aria-hidden="true" />
      <span className="rec-time">{formatDuration(props.recording.elapsedMs())}</span>
      <Waveform samples={live} bars={48} className="live" />
    </div>
  );
}
