// The gateway service stands in the shared frame: health, readiness ladder, metrics bearer, RFC-shaped errors.
import { randomBytes } from 'node:crypto';
import { describeServiceFrame } from '../../../../test-support/service-frame.js';
import { buildApp, GROUPS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

describeServiceFrame({
  service: 'gateway',
  loadConfig,
  buildApp,
  groups: GROUPS,
  extraEnv: { GATEWAY_STS_HMAC_KEY: randomBytes(32).toString('hex'), CARACAL_STS_URL: 'http://127.0.0.1:8080', CARACAL_ISSUER_URL: 'http://127.0.0.1:8080' },
  notFound: { path: '/NOT_A_RESOURCE/x', body: { error: 'not_found', error_description: 'no such resource' } },
});
