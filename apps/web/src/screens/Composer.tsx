import { useEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from 'react';
import { Icon } from '../components/Dialog';
import { formatBytes } from '../lib/format';

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

/**
 * The message box: Enter sends, Shift+Enter makes a new line, files come
 * from the attach button, paste or drag-and-drop (handled by the view).
 */
export function Composer(props: {
  conversationKey: string;
  staged: readonly StagedFile[];
  onStage: (files: StagedFile[]) => void;
  onUnstage: (id: string) => void;
  onSend: (text: string) => void;
  disabled: boolean;
  error: string | null;
}) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const latest = useRef('');
  latest.current = text;

  // Each conversation keeps its own draft while the page is open.
  useEffect(() => {
    const key = props.conversationKey;
    setText(drafts.get(key) ?? '');
    ref.current?.focus({ preventScroll: true });
    return () => {
      if (latest.current !== '') drafts.set(key, latest.current);
      else drafts.delete(key);
    };
  }, [props.conversationKey]);

  // Grow with the text up to a limit, then scroll inside.
  useEffect(() => {
    const el = ref.current;
    if (el === null) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 180)}px`;
  }, [text]);

  const canSend = !props.disabled && (text.trim() !== '' || props.staged.length > 0);

  function send() {
    if (!canSend) return;
    props.onSend(text.trim());
    setText('');
    drafts.delete(props.conversationKey);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
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
            disabled={props.disabled}
            onChange={(e) => {
              const files = e.target.files;
              if (files !== null && files.length > 0) props.onStage(stageFiles(files));
              e.target.value = '';
            }}
          />
          <Icon name="attach" />
        </label>
        <textarea
          ref={ref}
          aria-label="Message"
          placeholder={props.disabled ? 'You can no longer send messages here' : 'Message'}
          rows={1}
          dir="auto"
          maxLength={MAX_TEXT}
          value={text}
          disabled={props.disabled}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        <button type="submit" className="send-button" aria-label="Send" disabled={!canSend}>
          <Icon name="send" />
        </button>
      </form>
    </div>
  );
}
