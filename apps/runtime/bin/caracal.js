#!/usr/bin/env node
// Launcher for the compiled CLI.
import '../dist/main.js';
