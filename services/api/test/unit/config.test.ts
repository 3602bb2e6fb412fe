// The api's control endpoint settings (R-CTL-1): off by default; turned on, it needs an absolute gate file path and
// the issuer, and the bucket's rate and burst are bounded. Every problem is named at once.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const env = (extra: Record<string, string | undefined> = {}) => ({
  CARACAL_MODE: 'dev',
  DATABASE_URL: 'postgres://u@127.0.0.1/db',
  REDIS_URL: 'redis://127.0.0.1:6379',
  ...extra,
});

describe('api config: the control endpoint', () => {
  it('is off by default, with a bounded bucket', () => {
    expect(loadConfig(env())).toMatchObject({ CARACAL_CONTROL_ENABLED: false, CONTROL_RATE_PER_MIN: 60, CONTROL_BURST: 10 });
  });

  it('needs the gate file and the issuer when enabled', () => {
    expect(() => loadConfig(env({ CARACAL_CONTROL_ENABLED: 'true' }))).toThrow(
      /CARACAL_CONTROL_GATE_FILE: is required when CARACAL_CONTROL_ENABLED=true[\s\S]*CARACAL_ISSUER_URL: is required when CARACAL_CONTROL_ENABLED=true/,
    );
    const on = loadConfig(env({ CARACAL_CONTROL_ENABLED: 'true', CARACAL_CONTROL_GATE_FILE: '/srv/caracal/control/enabled', CARACAL_ISSUER_URL: 'http://127.0.0.1:8080' }));
    expect(on).toMatchObject({ CARACAL_CONTROL_ENABLED: true, CARACAL_CONTROL_GATE_FILE: '/srv/caracal/control/enabled' });
  });

  it.each([
    [{ CARACAL_CONTROL_ENABLED: 'maybe' }, /CARACAL_CONTROL_ENABLED: must be true or false/],
    [{ CARACAL_CONTROL_GATE_FILE: 'control/enabled' }, /CARACAL_CONTROL_GATE_FILE: must be an absolute path/],
    [{ CONTROL_RATE_PER_MIN: '0' }, /CONTROL_RATE_PER_MIN/],
    [{ CONTROL_BURST: '10001' }, /CONTROL_BURST/],
  ])('refuses %j', (extra, message) => {
    expect(() => loadConfig(env(extra))).toThrow(message);
  });
});
