// The coordinator service stands in the shared frame: health, readiness ladder, metrics bearer, RFC-shaped errors.
import { randomBytes } from 'node:crypto';
import { describeServiceFrame } from '../../../../test-support/service-frame.js';
import { buildApp, GROUPS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

describeServiceFrame({ service: 'coordinator', loadConfig, buildApp, groups: GROUPS, extraEnv: { IDEMPOTENCY_HMAC_KEY: randomBytes(32).toString('hex'), CARACAL_COORDINATOR_TOKEN: randomBytes(32).toString('hex') } });
