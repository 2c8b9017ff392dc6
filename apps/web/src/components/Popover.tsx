import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { createPortal } from 'react-dom';

/**
 * A floating panel next to the button that opened it (a menu, the emoji
 * picker). Rendered into <body> with fixed positioning so the virtualised
 * message list and its scroll container never clip it; it flips above the
 * button when there is no room below. Esc or a click outside closes it and
 * focus goes back to the button.
 */
export function Popover(props: {
  anchor: RefObject<HTMLElement | null>;
  onClose: () => void;
  children: ReactNode;
  role?: 'menu' | 'dialog';
  label: string;
  align?: 'start' | 'end';
  className?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ top: number; left: number } | null>(null);
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  const { anchor, align } = props;

  useLayoutEffect(() => {
    const a = anchor.current;
    const el = ref.current;
    if (a === null || el === null) return;
    const r = a.getBoundingClientRect();
    const w = el.offsetWidth;
    const h = el.offsetHeight;
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const below = r.bottom + 4;
    const top = below + h <= vh - 8 ? below : Math.max(8, r.top - h - 4);
    let left = align === 'start' ? r.left : r.right - w;
    left = Math.min(Math.max(8, left), vw - w - 8);
    setPos({ top, left });
  }, [anchor, align]);

  useEffect(() => {
    const a = anchor.current;
    const first = ref.current?.querySelector<HTMLElement>('[role="menuitem"], input, button');
    first?.focus({ preventScroll: true });
    const down = (e: MouseEvent) => {
      const t = e.target as Node;
      if (ref.current?.contains(t) === true || a?.contains(t) === true) return;
      onClose.current();
    };
    document.addEventListener('mousedown', down, true);
    return () => {
      document.removeEventListener('mousedown', down, true);
      a?.focus({ preventScroll: true });
    };
  }, [anchor]);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose.current();
      return;
    }
    if (props.role !== 'menu' || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
    e.preventDefault();
    const items = [...(ref.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const i = items.indexOf(document.activeElement as HTMLElement);
    const next = items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length];
    next?.focus();
  }

  return createPortal(
    <div
      ref={ref}
      role={props.role ?? 'dialog'}
      aria-label={props.label}
      className={`popover${props.className === undefined ? '' : ` ${props.className}`}`}
      style={pos === null ? { visibility: 'hidden', top: 0, left: 0 } : { top: pos.top, left: pos.left }}
      onKeyDown={onKeyDown}
    >
      {props.children}
    </div>,
    document.body,
  );
}

/** One item of a Popover menu. */
export function MenuItem(props: { onSelect: () => void; children: ReactNode; danger?: boolean; disabled?: boolean }) {
  return (
    <button type="button" role="menuitem" className={`menu-item${props.danger === true ? ' danger' : ''}`} disabled={props.disabled} onClick={props.onSelect}>
      {props.children}
    </button>
  );
}
