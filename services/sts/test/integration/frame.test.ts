// The sts service stands in the shared frame: health, readiness ladder, metrics bearer, RFC-shaped errors.
import { randomBytes } from 'node:crypto';
import { describeServiceFrame } from '../../../../test-support/service-frame.js';
import { buildApp, GROUPS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

describeServiceFrame({ service: 'sts', loadConfig, buildApp, groups: GROUPS, extraEnv: { SECRET_STORE_KEK: randomBytes(32).toString('hex'), GATEWAY_STS_HMAC_KEY: randomBytes(32).toString('hex'), CARACAL_ISSUER_URL: 'http://127.0.0.1:8080' } });
