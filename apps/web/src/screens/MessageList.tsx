import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { AttachmentInput, Message, ParleyClient, VoiceInput } from '@parley/client';
import { Icon } from '../components/Dialog';
import { formatDay, startOfDay } from '../lib/format';
import { NoticeLine } from '../notices/NoticeLine';
import { isNotice, messageKey, type NoticeMessage } from '../notices/notices';
import { MessageRow, type MessageRowActions } from './message/MessageRow';
import { PendingRow } from './message/PendingRow';
import { SettingsLine } from './message/SettingsLine';

/** A message this device is sending (or failed to send); shown after the stored history. */
export interface PendingMessage {
  readonly localId: string;
  readonly input: string | AttachmentInput | VoiceInput;
  /** The message this one answers. */
  readonly replyTo?: { readonly seq: number; readonly id: string };
  /** Set when the connection dropped before the server answered: a retry names it so no second copy is sent. */
  readonly contentId?: string;
  readonly previewUrl: string | null;
  readonly createdAt: number;
  readonly state: 'sending' | 'failed';
  readonly error?: string;
  /** Nothing left the device: tried again by itself when the connection is back. */
  readonly autoRetry?: boolean;
}

type Row =
  | { kind: 'day'; key: string; day: number }
  | { kind: 'message'; key: string; message: Message; showSender: boolean; tail: boolean }
  | { kind: 'notice'; key: string; message: NoticeMessage }
  | { kind: 'settings'; key: string; message: Message }
  | { kind: 'pending'; key: string; pending: PendingMessage };

const GROUP_GAP_MS = 5 * 60 * 1000;

/** Notices and settings changes are centred lines, not messages of a sender's run. */
function isLine(m: Message): boolean {
  return isNotice(m) || m.content.type === 'settings';
}

function buildRows(messages: readonly Message[], pending: readonly PendingMessage[], group: boolean): Row[] {
  const rows: Row[] = [];
  let lastDay = -1;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message;
    const at = m.outgoing ? m.sentAt : m.receivedAt;
    const day = startOfDay(at);
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `d${day}`, day });
      lastDay = day;
    }
    if (isNotice(m)) {
      rows.push({ kind: 'notice', key: messageKey(m), message: m });
      continue;
    }
    if (m.content.type === 'settings') {
      rows.push({ kind: 'settings', key: messageKey(m), message: m });
      continue;
    }
    // A notice between two messages of one sender splits them into two runs.
    const prev = messages[i - 1];
    const next = messages[i + 1];
    const sameAsPrev = prev !== undefined && !isLine(prev) && prev.sender.deviceId === m.sender.deviceId && startOfDay(prev.receivedAt) === day && m.receivedAt - prev.receivedAt < GROUP_GAP_MS;
    const sameAsNext = next !== undefined && !isLine(next) && next.sender.deviceId === m.sender.deviceId && next.receivedAt - m.receivedAt < GROUP_GAP_MS && startOfDay(next.receivedAt) === day;
    rows.push({ kind: 'message', key: messageKey(m), message: m, showSender: group && !m.outgoing && !sameAsPrev, tail: !sameAsNext });
  }
  if (pending.length > 0) {
    const day = startOfDay(pending[0]?.createdAt ?? Date.now());
    if (day !== lastDay) rows.push({ kind: 'day', key: `d${day}`, day });
  }
  for (const p of pending) rows.push({ kind: 'pending', key: `p${p.localId}`, pending: p });
  return rows;
}

export function MessageList(props: {
  client: ParleyClient;
  conversationKey: string;
  messages: readonly Message[];
  pending: readonly PendingMessage[];
  group: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  onRetry: (localId: string) => void;
  onDiscard: (localId: string) => void;
  onAtBottom: (atBottom: boolean) => void;
  onOpenImage: (url: string, name: string) => void;
  /** A notice's "Verify safety number": opens that contact's safety number. */
  onOpenContact: (username: string) => void;
  header?: ReactNode;
  /** Null when the conversation is read-only history. */
  actions: MessageRowActions | null;
  /** A quote was clicked: the view loads history back to that seq, then sets `focus`. */
  onJump: (seq: number) => void;
  /** Scroll to this message and highlight it (a new token each time); `moveFocus`: keyboard focus goes to it too. */
  focus: { seq: number; token: number; moveFocus?: boolean } | null;
  /** A window far back in the history (a search result) that does not reach the newest message yet. */
  hasNewer?: boolean;
  loadingNewer?: boolean;
  onLoadNewer?: () => void;
  /** Leave the window for the newest messages ("Latest messages"). */
  onShowLatest?: () => void;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const innerRef = useRef<HTMLDivElement>(null);
  const stuck = useRef(true);
  const [showJump, setShowJump] = useState(false);
  const rows = useMemo(() => buildRows(props.messages, props.pending, props.group), [props.messages, props.pending, props.group]);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => (rows[i]?.kind === 'day' ? 44 : 56),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 12,
    paddingStart: 8,
    paddingEnd: 14,
    // Rows measured in one pass (a batch of new messages) cause one re-render, not one synchronous render each.
    useFlushSync: false,
  });

  // Stable callbacks for the memoised rows, whatever the parent hands in on each render.
  const parentCallbacks = useRef({ onJump: props.onJump, onOpenImage: props.onOpenImage });
  parentCallbacks.current = { onJump: props.onJump, onOpenImage: props.onOpenImage };
  const onJump = useCallback((seq: number) => parentCallbacks.current.onJump(seq), []);
  const onOpenImage = useCallback((url: string, name: string) => parentCallbacks.current.onOpenImage(url, name), []);

  const scrollToBottom = useCallback(() => {
    const el = scrollRef.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  }, []);

  // While stuck to the bottom, stay there as rows are added and measured (no jumps, no drift).
  useEffect(() => {
    const inner = innerRef.current;
    if (inner === null) return;
    const ro = new ResizeObserver(() => {
      if (stuck.current) scrollToBottom();
    });
    ro.observe(inner);
    return () => ro.disconnect();
  }, [scrollToBottom]);

  // A new conversation opens at its newest message (or, in a window far back, where the jump to a message puts it).
  const opensDetached = useRef(props.hasNewer === true);
  useLayoutEffect(() => {
    setShowJump(false);
    if (opensDetached.current) {
      opensDetached.current = false;
      stuck.current = false;
      return;
    }
    stuck.current = true;
    scrollToBottom();
  }, [props.conversationKey, scrollToBottom]);

  // Keep the reading position when older messages are put above it.
  const firstKey = rows.find((r) => r.kind === 'message' || r.kind === 'notice')?.key;
  const lastKey = rows[rows.length - 1]?.key;
  const anchor = useRef<{ first: string | undefined; fromBottom: number }>({ first: undefined, fromBottom: 0 });
  // Whether the rows before this render were a window that did not reach the newest message.
  const wasDetached = useRef(props.hasNewer === true);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el === null) return;
    const prev = anchor.current;
    if (prev.first !== undefined && firstKey !== prev.first && !stuck.current) {
      el.scrollTop = el.scrollHeight - prev.fromBottom;
    }
    anchor.current = { first: firstKey, fromBottom: el.scrollHeight - el.scrollTop };
  }, [firstKey]);

  // A new last row: follow it if stuck (or it is our own), otherwise offer a jump button.
  const lastRow = rows[rows.length - 1];
  useLayoutEffect(() => {
    const own = lastRow?.kind === 'pending' || (lastRow?.kind === 'message' && lastRow.message.outgoing);
    // In a window far back, a new last row is a newer page read on scrolling down (the last one ends the window):
    // the reading position stays and nothing is new. "Latest messages" (stuck) goes to the end.
    if (props.hasNewer === true || (wasDetached.current && !stuck.current)) return;
    if (stuck.current || own) {
      stuck.current = true;
      scrollToBottom();
      virtualizer.scrollToIndex(rows.length - 1, { align: 'end' });
    } else if (lastRow !== undefined) {
      setShowJump(true);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lastKey]);

  const { onAtBottom, onLoadOlder, hasOlder, loadingOlder, onLoadNewer } = props;
  const hasNewer = props.hasNewer === true;
  const loadingNewer = props.loadingNewer === true;
  // After the effect above: it reads whether the previous rows were a window.
  useLayoutEffect(() => {
    wasDetached.current = hasNewer;
    if (hasNewer) stuck.current = false;
  }, [hasNewer]);
  const onScroll = useCallback(() => {
    const el = scrollRef.current;
    if (el === null) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    const atBottom = fromBottom < 48;
    // Only the real end of the history sticks: the end of a window far back loads the next page instead.
    stuck.current = atBottom && !hasNewer;
    if (atBottom) setShowJump(false);
    onAtBottom(atBottom);
    anchor.current.fromBottom = el.scrollHeight - el.scrollTop;
    if (el.scrollTop < 300 && hasOlder && !loadingOlder) onLoadOlder();
    if (fromBottom < 300 && hasNewer && !loadingNewer) onLoadNewer?.();
  }, [onAtBottom, onLoadOlder, hasOlder, loadingOlder, hasNewer, loadingNewer, onLoadNewer]);

  // Scroll to a message that was asked for (a quote's original) once its row exists, and flash it.
  const [highlight, setHighlight] = useState<number | null>(null);
  const handled = useRef<number | null>(null);
  const { focus } = props;
  useLayoutEffect(() => {
    if (focus === null || handled.current === focus.token) return;
    const index = rows.findIndex((r) => r.kind === 'message' && r.message.seq === focus.seq);
    if (index < 0) return;
    handled.current = focus.token;
    stuck.current = false;
    setShowJump(false);
    virtualizer.scrollToIndex(index, { align: 'center' });
    setHighlight(focus.seq);
    // Keyboard focus follows when asked to, or when what had it is gone (a search result in a list now hidden).
    // The row may take a few frames to be rendered by the virtualizer after the scroll.
    const seq = focus.seq;
    const always = focus.moveFocus === true;
    let frames = 0;
    const moveFocus = () => {
      const active = document.activeElement;
      const lost = active === null || active === document.body || (active instanceof HTMLElement && !active.checkVisibility());
      if (!lost && !always) return;
      const row = scrollRef.current?.querySelector<HTMLElement>(`article[data-seq="${seq}"]`);
      if (row != null) row.focus({ preventScroll: true });
      else if (++frames < 30) requestAnimationFrame(moveFocus);
    };
    requestAnimationFrame(moveFocus);
  }, [focus, rows, virtualizer]);
  useEffect(() => {
    if (highlight === null) return;
    const t = setTimeout(() => setHighlight(null), 1800);
    return () => clearTimeout(t);
  }, [highlight]);

  const items = virtualizer.getVirtualItems();

  return (
    <div className="message-scroll" ref={scrollRef} onScroll={onScroll}>
      <div className="message-log" role="log" aria-label="Messages" aria-live="polite" aria-relevant="additions">
        {props.header}
        {hasOlder && <div className="load-older">{loadingOlder ? <span className="spinner" aria-label="Loading earlier messages" /> : null}</div>}
        <div ref={innerRef} className="message-inner" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = rows[item.index];
            if (row === undefined) return null;
            return (
              <div key={item.key} data-index={item.index} ref={virtualizer.measureElement} className="message-row-wrap" style={{ transform: `translateY(${item.start}px)` }}>
                {row.kind === 'day' ? (
                  <div className="day-separator" role="separator">
                    <span>{formatDay(row.day)}</span>
                  </div>
                ) : row.kind === 'message' ? (
                  <MessageRow
                    client={props.client}
                    message={row.message}
                    showSender={row.showSender}
                    tail={row.tail}
                    highlight={highlight === row.message.seq}
                    actions={props.actions}
                    onJump={onJump}
                    onOpenImage={onOpenImage}
                  />
                ) : row.kind === 'settings' ? (
                  <SettingsLine message={row.message} />
                ) : row.kind === 'notice' ? (
                  <NoticeLine message={row.message} me={props.client.userId} onVerify={props.onOpenContact} />
                ) : (
                  <PendingRow pending={row.pending} onRetry={props.onRetry} onDiscard={props.onDiscard} />
                )}
              </div>
            );
          })}
        </div>
        {loadingNewer && (
          <div className="load-newer">
            <span className="spinner" aria-label="Loading later messages" />
          </div>
        )}
      </div>
      {hasNewer && (
        <button
          type="button"
          className="jump-button"
          onClick={() => {
            stuck.current = true;
            props.onShowLatest?.();
          }}
        >
          <Icon name="down" size={16} /> Latest messages
        </button>
      )}
      {showJump && !hasNewer && (
        <button
          type="button"
          className="jump-button"
          onClick={() => {
            stuck.current = true;
            setShowJump(false);
            virtualizer.scrollToIndex(rows.length - 1, { align: 'end' });
            scrollToBottom();
          }}
        >
          <Icon name="down" size={16} /> New messages
        </button>
      )}
    </div>
  );
}
