#!/usr/bin/env node
// Launcher for the compiled CLI: its bundle (dist/cli.mjs) or dist/main.js, whichever freshestEntry picks.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshestEntry } from '../dist/version.js';

const dist = (file) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
await import(pathToFileURL(freshestEntry(dist('main.js'), dist('cli.mjs'))).href);
