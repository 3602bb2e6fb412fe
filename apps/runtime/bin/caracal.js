#!/usr/bin/env node
// Launcher for the compiled CLI: its bundle (dist/cli.mjs, written by `pnpm run build` after tsc), or dist/main.js
// when there is no bundle or tsc wrote main.js after it.
import { statSync } from 'node:fs';

const dist = (file) => new URL(`../dist/${file}`, import.meta.url);
let entry = dist('main.js');
try {
  if (statSync(dist('cli.mjs')).mtimeMs >= statSync(entry).mtimeMs) entry = dist('cli.mjs');
} catch {
  // no bundle
}
await import(entry.href);
