#!/usr/bin/env node
// Some npm packages ship Go sources (flatted does). Without this marker, `go build ./...`,
// `go vet ./...` and the linters of the Go module would pick them up from ui/node_modules; a
// go.mod there makes node_modules a module of its own, which `./...` patterns skip.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');
if (existsSync(dir)) {
  writeFileSync(join(dir, 'go.mod'), 'module ignore_node_modules\n');
}
