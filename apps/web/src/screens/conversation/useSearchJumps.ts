import { useEffect, useRef, useState } from 'react';
import type { MessageTarget } from '../../app/hooks';

/** The layout's phone width (styles.css): one column, the open conversation covers the list. */
const ONE_COLUMN = '(max-width: 760px)';

/**
 * The conversation's own search panel: open or not, and a number bumped by
 * Ctrl+F / ⌘F (the open box takes focus again). Ctrl+F searches this
 * conversation because the history is virtualised: the browser's own find
 * sees only the rows on screen. Not while a dialog is open (it has its own
 * content to find in).
 */
export function useSearchPanel(): { open: boolean; setOpen: (open: boolean | ((o: boolean) => boolean)) => void; focusRequest: number } {
  const [open, setOpen] = useState(false);
  const [focusRequest, setFocusRequest] = useState(0);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || e.key.toLowerCase() !== 'f') return;
      if (document.querySelector('dialog[open]') !== null) return;
      e.preventDefault();
      setOpen(true);
      setFocusRequest((n) => n + 1);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return { open, setOpen, focusRequest };
}

/**
 * A message named by the route (a search result in the list, a link): once
 * the history is there, `jump` to it, once per target token. At phone width
 * the list that was searched is hidden now (and a link leaves nothing
 * focused), so keyboard focus goes to the message, not to the composer; on a
 * wide screen it stays in the results, for the next one.
 */
export function useRouteTarget(target: MessageTarget | null, loaded: boolean, jump: (seq: number, moveFocus: boolean) => void): void {
  const handled = useRef<number | null>(null);
  useEffect(() => {
    if (target === null || !loaded || handled.current === target.token) return;
    handled.current = target.token;
    const active = document.activeElement;
    jump(target.seq, window.matchMedia(ONE_COLUMN).matches || active === null || active === document.body);
  }, [target, loaded, jump]);
}
