// The environment each service process gets from the CLI: its audit spill directory under the operator home
// (R-AUD-1, R-HOME-1), next to secrets passed as files only (R-SEC-2).
import { describe, expect, it } from 'vitest';
import { layout } from '../../src/home/paths.js';
import { parseSettings, renderTemplate } from '../../src/home/settings.js';
import type { StackContext } from '../../src/stack/context.js';
import { serviceEnv } from '../../src/stack/service-env.js';

const ctx: StackContext = {
  home: layout('/home/op/caracal', false),
  settings: parseSettings(renderTemplate({ mode: 'stable', runtime: 'local', database: 'managed', redis: 'managed' }), 'caracal.env'),
  root: '/opt/caracal',
  env: { PATH: '/usr/bin' },
};

describe('serviceEnv', () => {
  it.each(['api', 'sts', 'gateway', 'coordinator', 'audit'] as const)('gives %s its own spill directory under $CARACAL_HOME/spool', (service) => {
    expect(ctx.home.spoolDir).toBe('/home/op/caracal/spool');
    expect(serviceEnv(ctx, service).AUDIT_SPILL_DIR).toBe(`/home/op/caracal/spool/${service}`);
  });

  it('passes the control endpoint settings to the api only when caracal.env enables it', () => {
    expect(serviceEnv(ctx, 'api').CARACAL_CONTROL_ENABLED).toBeUndefined();
    const on: StackContext = { ...ctx, settings: { ...ctx.settings, CARACAL_CONTROL_ENABLED: 'true' } };
    expect(serviceEnv(on, 'api')).toMatchObject({ CARACAL_CONTROL_ENABLED: 'true', CARACAL_CONTROL_GATE_FILE: '/home/op/caracal/control/enabled' });
    expect(serviceEnv(on, 'api').CARACAL_ISSUER_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serviceEnv(on, 'sts').CARACAL_CONTROL_ENABLED).toBeUndefined();
  });
});
