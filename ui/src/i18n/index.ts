// i18next with lazily loaded namespaces: `common` is loaded before the first render, every
// other namespace (one per area of the console) is a separate chunk fetched by the page that
// uses it. English only for now; a language is a folder under locales/.
import i18n from 'i18next';
import type { BackendModule, ReadCallback } from 'i18next';
import { initReactI18next } from 'react-i18next';

const loaders = import.meta.glob<{ default: Record<string, unknown> }>('./locales/*/*.json');

const lazyBackend: BackendModule = {
  type: 'backend',
  init() {},
  read(lng: string, ns: string, cb: ReadCallback) {
    const load = loaders[`./locales/${lng}/${ns}.json`];
    if (!load) {
      cb(new Error(`no translations for ${lng}/${ns}`), false);
      return;
    }
    load().then(
      (m) => cb(null, m.default),
      (e: unknown) => cb(e as Error, false),
    );
  },
};

export const NAMESPACES = [
  'common',
  'auth',
  'dashboard',
  'assets',
  'scans',
  'findings',
  'compliance',
  'modules',
  'admin',
] as const;

export function initI18n(): Promise<unknown> {
  return i18n
    .use(lazyBackend)
    .use(initReactI18next)
    .init({
      lng: 'en',
      fallbackLng: 'en',
      supportedLngs: ['en'],
      ns: ['common'],
      defaultNS: 'common',
      interpolation: { escapeValue: false }, // React escapes
      react: { useSuspense: true },
      returnNull: false,
    });
}

export default i18n;
