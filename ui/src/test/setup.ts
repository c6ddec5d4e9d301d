import '@testing-library/jest-dom/vitest';
import { afterEach, beforeAll } from 'vitest';
import { cleanup } from '@testing-library/react';
import i18n from 'i18next';
import { initI18n, NAMESPACES } from '../i18n';

beforeAll(async () => {
  if (!i18n.isInitialized) await initI18n();
  await i18n.loadNamespaces([...NAMESPACES]);
});

afterEach(() => {
  cleanup();
  window.localStorage.clear();
});
