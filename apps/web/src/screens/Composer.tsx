import { useEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from 'react';
import { Icon } from '../components/Dialog';
import { formatBytes } from '../lib/format';
import { ComposerContextBar } from './message/ReplyQuote';
import { VoiceRecorder } from './message/VoiceRecorder';
import { supportedVoiceType, VoiceRecording, type Recording } from './message/voice-recording';

export interface StagedFile {
  readonly id: string;
  readonly file: File;
  readonly previewUrl: string | null;
}

/** Attachments above this size are refused before upload (the server has its own limit too). */
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
const MAX_TEXT = 16_000;

/** Unsent text per conversation, kept while the page is open (never stored). */
const drafts = new Map<string, string>();

export function stageFiles(files: Iterable<File>): StagedFile[] {
  return [...files].map((file) => ({
    id: crypto.randomUUID(),
    file,
    previewUrl: /^image\/(png|jpeg|gif|webp|avif)$/i.test(file.type) ? URL.createObjectURL(file) : null,
  }));
}

/** What the message being written refers to: a reply, or the edit of an earlier message. */
export interface ComposerContext {
  readonly mode: 'reply' | 'edit';
  /** Changes when another message is chosen (the edit's text is loaded again). */
  readonly key: string;
  readonly name: string;
  readonly preview: string;
  /** For an edit: the current text, put into the box. */
  readonly text?: string;
}

/**
 * The message box: Enter sends, Shift+Enter makes a new line, files come
 * from the attach button, paste or drag-and-drop (handled by the view).
 * With an empty box the microphone records a voice message; Send sends it.
 */
export function Composer(props: {
  conversationKey: string;
  staged: readonly StagedFile[];
  onStage: (files: StagedFile[]) => void;
  onUnstage: (id: string) => void;
  onSend: (text: string) => void;
  disabled: boolean;
  error: string | null;
  context?: ComposerContext | null;
  onCancelContext?: () => void;
  /** Called as the user types (true) and when the box empties or the text is sent (false). */
  onTyping?: (typing: boolean) => void;
  /** Present when voice messages can be sent here. */
  onSendVoice?: (recording: Recording) => void;
  onVoiceError?: (message: string) => void;
}) {
  const [text, setText] = useState('');
  const [recording, setRecording] = useState<VoiceRecording | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const latest = useRef('');
  latest.current = text;
  const { onTyping } = props;
  const editKey = props.context?.mode === 'edit' ? props.context.key : null;
  const editText = props.context?.mode === 'edit' ? (props.context.text ?? '') : null;
  const savedDraft = useRef<string | null>(null);

  // Editing puts the message's text into the box (the draft comes back afterwards).
  useEffect(() => {
    if (editKey === null || editText === null) {
      if (savedDraft.current !== null) {
        setText(savedDraft.current);
        savedDraft.current = null;
      }
      return;
    }
    if (savedDraft.current === null) savedDraft.current = latest.current;
    setText(editText);
    ref.current?.focus({ preventScroll: true });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editKey]);

  // Choosing a message to reply to puts the cursor in the box.
  const contextKey = props.context?.key;
  useEffect(() => {
    if (contextKey !== undefined) ref.current?.focus({ preventScroll: true });
  }, [contextKey]);

  // A recording in progress is thrown away when the view goes.
  const current = useRef<VoiceRecording | null>(null);
  current.current = recording;
  useEffect(() => () => current.current?.cancel(), []);

  // Each conversation keeps its own draft while the page is open.
  useEffect(() => {
    const key = props.conversationKey;
    setText(drafts.get(key) ?? '');
    ref.current?.focus({ preventScroll: true });
    return () => {
      const draft = savedDraft.current ?? latest.current;
      if (draft !== '') drafts.set(key, draft);
      else drafts.delete(key);
      savedDraft.current = null;
    };
  }, [props.conversationKey]);

  // Typing is reported on every keystroke (the client throttles it and the other side lets it lapse
  // after a few seconds without one); an emptied box, a send or leaving the conversation stops it.
  useEffect(() => () => onTyping?.(false), [onTyping]);

  // Grow with the text up to a limit, then scroll inside.
  useEffect(() => {
    const el = ref.current;
    if (el === null) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 180)}px`;
  }, [text]);

  const editing = props.context?.mode === 'edit';
  const canSend = !props.disabled && (recording !== null || text.trim() !== '' || (!editing && props.staged.length > 0));
  const canRecord = props.onSendVoice !== undefined && !editing && text.trim() === '' && props.staged.length === 0 && supportedVoiceType() !== null;

  async function startRecording() {
    try {
      const r = await VoiceRecording.start(() => void finishRecording());
      setRecording(r);
    } catch (err) {
      props.onVoiceError?.(err instanceof DOMException && err.name === 'NotAllowedError' ? 'Parley may not use the microphone. Allow it in the browser’s site settings.' : 'No microphone could be used.');
    }
  }

  async function finishRecording() {
    const r = current.current;
    if (r === null) return;
    setRecording(null);
    const done = await r.stop();
    props.onSendVoice?.(done);
  }

  function send() {
    if (!canSend) return;
    if (recording !== null) {
      void finishRecording();
      return;
    }
    props.onSend(text.trim());
    onTyping?.(false);
    if (savedDraft.current !== null) {
      // An edit was sent: the draft written before it comes back.
      setText(savedDraft.current);
      savedDraft.current = null;
    } else {
      setText('');
    }
    drafts.delete(props.conversationKey);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'Escape' && props.context != null) {
      e.preventDefault();
      props.onCancelContext?.();
    }
  }

  function onPaste(e: ClipboardEvent<HTMLTextAreaElement>) {
    const files = [...e.clipboardData.files];
    if (files.length > 0) {
      e.preventDefault();
      props.onStage(stageFiles(files));
    }
  }

  return (
    <div className="composer-wrap">
      {props.staged.length > 0 && (
        <ul className="staged" aria-label="Attachments to send">
          {props.staged.map((s) => (
            <li key={s.id} className="staged-item">
              {s.previewUrl !== null ? <img src={s.previewUrl} alt={s.file.name} /> : <Icon name="file" size={28} />}
              <span className="staged-name" dir="auto">
                {s.file.name}
                <span className="muted small">{formatBytes(s.file.size)}</span>
              </span>
              <button type="button" className="icon-button small" aria-label={`Remove ${s.file.name}`} onClick={() => props.onUnstage(s.id)}>
                <Icon name="close" size={16} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {props.context != null && props.onCancelContext !== undefined && (
        <ComposerContextBar mode={props.context.mode} name={props.context.name} preview={props.context.preview} onCancel={props.onCancelContext} />
      )}
      {props.error !== null && (
        <p className="composer-error" role="alert">
          {props.error}
        </p>
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label className="icon-button attach" title="Attach file">
          <input
            type="file"
            className="sr-only"
            aria-label="Attach file"
            multiple
            disabled={props.disabled || editing || recording !== null}
            onChange={(e) => {
              const files = e.target.files;
              if (files !== null && files.length > 0) props.onStage(stageFiles(files));
              e.target.value = '';
            }}
          />
          <Icon name="attach" />
        </label>
        {recording !== null ? (
          <VoiceRecorder
            recording={recording}
            onCancel={() => {
              recording.cancel();
              setRecording(null);
            }}
          />
        ) : (
          <textarea
            ref={ref}
            aria-label="Message"
            placeholder={props.disabled ? 'You can no longer send messages here' : 'Message'}
            rows={1}
            dir="auto"
            maxLength={MAX_TEXT}
            value={text}
            disabled={props.disabled}
            onChange={(e) => {
              setText(e.target.value);
              if (!editing) onTyping?.(e.target.value.trim() !== '');
            }}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
          />
        )}
        {canRecord && recording === null && (
          <button type="button" className="icon-button record-button" aria-label="Record voice message" title="Record voice message" disabled={props.disabled} onClick={() => void startRecording()}>
            <Icon name="mic" />
          </button>
        )}
        <button type="submit" className="send-button" aria-label="Send" disabled={!canSend}>
          <Icon name="send" />
        </button>
      </form>
    </div>
  );
}
