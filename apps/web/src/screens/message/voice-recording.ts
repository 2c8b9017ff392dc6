import { MAX_VOICE_DURATION_MS, MAX_WAVEFORM_SAMPLES } from '../../lib/content-rules';
import { downsample } from '../../lib/waveform';

/** A finished recording, ready for the SDK's VoiceInput. */
export interface Recording {
  readonly voice: Uint8Array;
  readonly mimeType: string;
  readonly durationMs: number;
  /** Loudness 0–255, at most MAX_WAVEFORM_SAMPLES values. */
  readonly waveform: Uint8Array;
}

const SAMPLE_EVERY_MS = 50;
/** Opus in Ogg where the browser records it (Firefox), else Opus in WebM (Chromium). */
const TYPES = ['audio/ogg;codecs=opus', 'audio/webm;codecs=opus'];

export function supportedVoiceType(): string | null {
  if (typeof MediaRecorder === 'undefined') return null;
  return TYPES.find((t) => MediaRecorder.isTypeSupported(t)) ?? null;
}

/**
 * Records from the microphone with MediaRecorder (Opus) while an
 * AnalyserNode samples the loudness every 50 ms for the waveform. Nothing
 * leaves the browser here; stop() hands back the bytes, duration and waveform.
 */
export class VoiceRecording {
  /** Live loudness samples (0–1), for the recorder's own display. */
  readonly levels: number[] = [];
  private readonly chunks: Blob[] = [];
  private readonly startedAt = performance.now();
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;

  private constructor(
    private readonly stream: MediaStream,
    private readonly recorder: MediaRecorder,
    private readonly audio: AudioContext,
    analyser: AnalyserNode,
    private readonly onLimit: () => void,
  ) {
    const buf = new Uint8Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getByteTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += ((v - 128) / 128) ** 2;
      this.levels.push(Math.min(1, Math.sqrt(sum / buf.length) * 3));
      if (this.elapsedMs() >= MAX_VOICE_DURATION_MS) this.onLimit();
    }, SAMPLE_EVERY_MS);
    recorder.ondataavailable = (e) => {
      if (e.data.size > 0) this.chunks.push(e.data);
    };
    recorder.start(250);
  }

  /** Asks for the microphone and starts; throws a DOMException when refused or absent. */
  static async start(onLimit: () => void): Promise<VoiceRecording> {
    const type = supportedVoiceType();
    if (type === null) throw new Error('This browser cannot record voice messages.');
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    try {
      const audio = new AudioContext();
      const analyser = audio.createAnalyser();
      analyser.fftSize = 1024;
      audio.createMediaStreamSource(stream).connect(analyser);
      return new VoiceRecording(stream, new MediaRecorder(stream, { mimeType: type }), audio, analyser, onLimit);
    } catch (err) {
      for (const t of stream.getTracks()) t.stop();
      throw err;
    }
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** Stops and returns the recording. */
  async stop(): Promise<Recording> {
    const durationMs = Math.max(1, Math.min(MAX_VOICE_DURATION_MS, Math.round(this.elapsedMs())));
    const done = new Promise<void>((resolve) => {
      this.recorder.onstop = () => resolve();
    });
    if (this.recorder.state !== 'inactive') this.recorder.stop();
    await done;
    this.release();
    const blob = new Blob(this.chunks, { type: this.recorder.mimeType });
    const mimeType = (this.recorder.mimeType || supportedVoiceType() || 'audio/webm').replace(/\s+/g, '');
    return { voice: new Uint8Array(await blob.arrayBuffer()), mimeType, durationMs, waveform: downsample(this.levels.map((l) => l * 255), MAX_WAVEFORM_SAMPLES) };
  }

  /** Throws the recording away. */
  cancel(): void {
    if (this.recorder.state !== 'inactive') this.recorder.stop();
    this.release();
  }

  private release(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const t of this.stream.getTracks()) t.stop();
    void this.audio.close().catch(() => undefined);
  }
}
