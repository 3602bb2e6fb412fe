// Configuration posture (R-EVD-1): the stack runs in stable mode, where dev mode's relaxations do not apply (e.g.
// /metrics always demands its bearer, the audit spill directory is required).
import type { CheckDefinition } from '../check.js';
import { fail, pass } from './support.js';

export const configMode: CheckDefinition = {
  id: 'config-mode',
  pillar: 'Configuration',
  title: 'CARACAL_MODE is stable',
  what: 'caracal.env sets CARACAL_MODE=stable (the default): dev mode allows insecure relaxations meant for a laptop, never for a deployment.',
  controls: ['EU-AIA-15', 'NIST-MEASURE'],
  command: 'CARACAL_MODE from <CARACAL_HOME>/caracal.env (validated settings; stable when unset)',
  run: async (ctx) => {
    const mode = ctx.settings.CARACAL_MODE;
    const raw = [{ name: 'mode.json', command: `CARACAL_MODE from ${ctx.home.envFile}`, output: { CARACAL_MODE: mode } }];
    return mode === 'stable' ? pass('CARACAL_MODE=stable', raw) : fail(`CARACAL_MODE=${mode} in ${ctx.home.envFile}: dev mode allows insecure relaxations; set CARACAL_MODE=stable and run \`caracal up\``, raw);
  },
};
