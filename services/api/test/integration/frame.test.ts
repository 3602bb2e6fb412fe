// The api service stands in the shared frame: health, readiness ladder, metrics bearer, RFC-shaped errors.
import { randomBytes } from 'node:crypto';
import { describeServiceFrame } from '../../../../test-support/service-frame.js';
import { buildApp, GROUPS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

describeServiceFrame({ service: 'api', loadConfig, buildApp, groups: GROUPS, extraEnv: { SECRET_STORE_KEK: randomBytes(32).toString('hex'), CARACAL_ADMIN_TOKEN: randomBytes(32).toString('hex') } });
