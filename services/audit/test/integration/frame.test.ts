// The audit service stands in the shared frame: health, readiness ladder, metrics bearer, RFC-shaped errors.
import { describeServiceFrame } from '../../../../test-support/service-frame.js';
import { buildApp, GROUPS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

describeServiceFrame({ service: 'audit', loadConfig, buildApp, groups: GROUPS });
