/**
 * Display preferences only (theme). Nothing secret or personal lives in
 * localStorage: keys, history and read positions are in the client's store.
 */
export type ThemeChoice = 'system' | 'light' | 'dark';

const THEME_KEY = 'parley.theme';

export function loadTheme(): ThemeChoice {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function saveTheme(theme: ThemeChoice): void {
  try {
    if (theme === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  applyTheme(theme);
}

const systemDark = window.matchMedia('(prefers-color-scheme: dark)');
let current: ThemeChoice = 'system';

/** Sets data-theme on <html> (the stylesheet's one switch); "system" follows the OS setting live. */
export function applyTheme(theme: ThemeChoice): void {
  current = theme;
  const dark = theme === 'dark' || (theme === 'system' && systemDark.matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

systemDark.addEventListener('change', () => applyTheme(current));

/** A readable name for this device in the user's device list, e.g. "Chrome on Linux". */
export function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'web';
  return `${browser} on ${os}`;
}
