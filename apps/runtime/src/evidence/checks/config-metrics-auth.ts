// Configuration posture (R-EVD-1, R-OPS-1): every service's `/metrics` refuses a request that carries no bearer.
// The check sends none and so never handles the metrics bearer itself.
import { SERVICE_NAMES } from '@caracal/db';
import type { CheckDefinition } from '../check.js';
import { askEveryService } from './runtime-readiness.js';
import { skipped, verdict } from './support.js';

const REFUSED = new Set([401, 403]);

export const configMetricsAuth: CheckDefinition = {
  id: 'config-metrics-auth',
  pillar: 'Configuration',
  title: '/metrics requires the bearer',
  what: 'Each service refuses GET /metrics without the metrics bearer (401 or 403): operational metrics (request counts, failures, instance names) are not open to anyone who can reach the port.',
  controls: ['R8', 'SOC2-CC7', 'NIST-MEASURE'],
  command: `GET http://CARACAL_BIND_HOST:<port>/metrics without Authorization for ${SERVICE_NAMES.join(', ')}`,
  run: async (ctx) => {
    const answers = await askEveryService(ctx, '/metrics', 'metrics', ['www-authenticate']);
    const raw = answers.map((a) => a.raw);
    const open = answers.filter(({ answer: a }) => a.status !== null && !REFUSED.has(a.status)).map(({ service, answer }) => `${service} /metrics answered HTTP ${answer.status} without the bearer`);
    const silent = answers.filter(({ answer: a }) => a.status === null).map(({ service, answer }) => `${service} (${answer.error})`);
    // A service that does not answer cannot show that it refuses; runtime-readiness FAILs it already.
    if (open.length === 0 && silent.length > 0) return skipped(`no answer from ${silent.join(', ')}: its /metrics could not be tried (see runtime-readiness)`, raw);
    return verdict(open, `every service refused /metrics without the bearer: ${answers.map((a) => `${a.service} ${a.answer.status}`).join(', ')}`, raw);
  },
};
