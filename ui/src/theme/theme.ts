// Light and dark themes: the choice is kept in localStorage and applied as the `dark` class on
// <html> (public/theme-init.js applies it before the first paint with the same key).
import { useCallback, useSyncExternalStore } from 'react';

export type Theme = 'light' | 'dark';
export const THEME_KEY = 'tenantra.theme';

const listeners = new Set<() => void>();

export function systemTheme(): Theme {
  return typeof window !== 'undefined' &&
    window.matchMedia?.('(prefers-color-scheme: dark)').matches
    ? 'dark'
    : 'light';
}

export function readTheme(): Theme {
  try {
    const t = window.localStorage.getItem(THEME_KEY);
    if (t === 'light' || t === 'dark') return t;
  } catch {
    // storage disabled: follow the system
  }
  return systemTheme();
}

export function applyTheme(t: Theme): void {
  const root = document.documentElement;
  root.classList.toggle('dark', t === 'dark');
  root.style.colorScheme = t;
}

export function setTheme(t: Theme): void {
  try {
    window.localStorage.setItem(THEME_KEY, t);
  } catch {
    // not persisted, still applied
  }
  applyTheme(t);
  for (const l of listeners) l();
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useTheme(): [Theme, () => void] {
  const theme = useSyncExternalStore(subscribe, readTheme, () => 'light' as Theme);
  const toggle = useCallback(() => setTheme(readTheme() === 'dark' ? 'light' : 'dark'), []);
  return [theme, toggle];
}
