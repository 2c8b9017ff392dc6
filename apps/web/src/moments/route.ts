import { useCallback, useEffect, useState } from 'react';
import { MOMENTS_ROUTE } from '../notify/moments';

/**
 * Whether the Moments tab fills the pane, kept in the URL hash (`#/moments`)
 * so a reload, the back button and a notification's click (notify/) open
 * it. Opening a conversation (another hash) leaves it.
 */
export function useMomentsRoute(selectedId: string | null, clearSelection: () => void): [open: boolean, show: () => void, hide: () => void] {
  const [open, setOpen] = useState(() => window.location.hash === MOMENTS_ROUTE);
  useEffect(() => {
    const onHash = () => setOpen(window.location.hash === MOMENTS_ROUTE);
    window.addEventListener('hashchange', onHash);
    window.addEventListener('popstate', onHash);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener('popstate', onHash);
    };
  }, []);
  useEffect(() => {
    if (selectedId !== null) setOpen(false);
  }, [selectedId]);
  const show = useCallback(() => {
    // The conversation route's listener sees the new hash and lets the conversation go.
    if (window.location.hash !== MOMENTS_ROUTE) window.location.hash = MOMENTS_ROUTE;
    setOpen(true);
  }, []);
  const hide = useCallback(() => {
    setOpen(false);
    clearSelection();
  }, [clearSelection]);
  return [open, show, hide];
}
