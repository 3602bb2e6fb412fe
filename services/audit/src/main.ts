// Process entry of the audit service: wiring and signals only; the only place that exits.
import { serviceMain } from '@caracal/service-kit';
import { buildApp, GROUPS } from './app.js';
import { loadConfig } from './config.js';

serviceMain({ service: 'audit', env: process.env, loadConfig, groups: GROUPS, build: buildApp }, (code) => process.exit(code));
