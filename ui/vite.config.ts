/// <reference types="vitest/config" />
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// The console is served by the Go binary from ui/dist under a strict CSP (script-src 'self';
// style-src 'self'): no inline scripts or styles, so Vite's default output (external module
// scripts and CSS files) fits as it is. Hashed files land in dist/assets/, which ui/embed.go
// serves with a one-year immutable cache lifetime.
// dist/.keep is committed so that `go build` compiles without a built console; the build
// empties dist/ (no stale hashed files get embedded) and puts the marker back.
function keepMarker(): Plugin {
  return {
    name: 'tenantra-keep-marker',
    apply: 'build',
    writeBundle(opts) {
      writeFileSync(resolve(opts.dir ?? 'dist', '.keep'), '');
    },
  };
}

export default defineConfig({
  plugins: [react(), tailwindcss(), keepMarker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // scripts/size-check.mjs reads the manifest to find the JavaScript of the first load.
    manifest: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev` proxies the API to a local `tenantra serve` (self-signed certificate).
    proxy: {
      '/v1': { target: process.env.TENA_DEV_API ?? 'https://127.0.0.1:8443', secure: false },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
  },
});
