#!/usr/bin/env node
// Fails when the JavaScript a first visit loads is over the budget (300 KB gzipped, issue #7).
// The first load is the entry chunk and every chunk it imports statically (what index.html
// loads and modulepreloads); routes imported dynamically are not counted. Reads Vite's manifest
// in dist/.vite/manifest.json, so run it after `vite build`.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = Number(process.env.TENA_UI_BUDGET_KB ?? 300) * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

let manifest;
try {
  manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
} catch (e) {
  console.error(
    `size-check: cannot read dist/.vite/manifest.json (${e.message}); run vite build first`,
  );
  process.exit(2);
}

const entries = Object.entries(manifest).filter(([, c]) => c.isEntry);
if (entries.length === 0) {
  console.error('size-check: the manifest names no entry chunk');
  process.exit(2);
}
const seen = new Set();
const walk = (key) => {
  if (seen.has(key)) return;
  seen.add(key);
  for (const k of manifest[key]?.imports ?? []) walk(k);
};
for (const [k] of entries) walk(k);

let total = 0;
const rows = [];
for (const key of seen) {
  const file = manifest[key].file;
  const gz = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += gz;
  rows.push([file, gz]);
}
// index.html's classic script runs before the app too.
try {
  const gz = gzipSync(readFileSync(join(dist, 'theme-init.js')), { level: 9 }).length;
  total += gz;
  rows.push(['theme-init.js', gz]);
} catch {
  // not built with it
}
rows.sort((a, b) => b[1] - a[1]);
for (const [f, gz] of rows) console.log(`${(gz / 1024).toFixed(1).padStart(8)} KB  ${f}`);
const kb = (total / 1024).toFixed(1);
if (total > BUDGET) {
  console.error(
    `size-check: initial JavaScript is ${kb} KB gzipped, over the ${BUDGET / 1024} KB budget`,
  );
  process.exit(1);
}
console.log(`size-check: initial JavaScript ${kb} KB gzipped (budget ${BUDGET / 1024} KB): ok`);
