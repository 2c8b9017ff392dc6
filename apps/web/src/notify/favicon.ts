import { useEffect } from 'react';

/** The app's icon, and the size the badged copy is drawn at. */
const ICON_URL = '/icons/icon-192.png';
const SIZE = 64;

let original: { href: string | null; type: string | null } | undefined;
let icon: Promise<HTMLImageElement | null> | undefined;

function loadIcon(): Promise<HTMLImageElement | null> {
  icon ??= new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = ICON_URL;
  });
  return icon;
}

function iconLink(): HTMLLinkElement {
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (link === null) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.appendChild(link);
  }
  original ??= { href: link.getAttribute('href'), type: link.getAttribute('type') };
  return link;
}

/** The label drawn on the badge: the count, capped ("99+"). */
export function badgeLabel(unread: number): string {
  return unread > 99 ? '99+' : String(Math.max(0, Math.floor(unread)));
}

/** Draws the app icon with a red badge carrying the count; null where canvas is unavailable. */
export async function drawBadge(unread: number): Promise<string | null> {
  const img = await loadIcon();
  const canvas = document.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  const ctx = canvas.getContext('2d');
  if (ctx === null) return null;
  if (img !== null) ctx.drawImage(img, 0, 0, SIZE, SIZE);
  const label = badgeLabel(unread);
  const r = label.length > 2 ? 22 : 19;
  const cx = SIZE - r;
  const cy = r;
  ctx.fillStyle = '#d93025';
  ctx.beginPath();
  ctx.arc(cx, cy, r, 0, Math.PI * 2);
  ctx.fill();
  ctx.fillStyle = '#ffffff';
  ctx.font = `bold ${label.length > 2 ? 18 : label.length > 1 ? 24 : 28}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(label, cx, cy + 1);
  try {
    return canvas.toDataURL('image/png');
  } catch {
    return null;
  }
}

/**
 * Shows the unread count on the tab's icon (muted conversations are for the
 * caller to leave out, as for the title). 0 puts the plain icon back.
 */
export function useFaviconBadge(unread: number): void {
  useEffect(() => {
    let live = true;
    const link = iconLink();
    if (unread <= 0) {
      restore(link, 'href', original?.href ?? null);
      restore(link, 'type', original?.type ?? null);
      link.removeAttribute('data-unread');
      return;
    }
    void drawBadge(unread).then((url) => {
      if (!live || url === null) return;
      link.href = url;
      link.type = 'image/png';
      link.setAttribute('data-unread', badgeLabel(unread));
    });
    return () => {
      live = false;
    };
  }, [unread]);
}

function restore(link: HTMLLinkElement, name: string, value: string | null): void {
  if (value === null) link.removeAttribute(name);
  else link.setAttribute(name, value);
}
