// Typed errors for named deny reasons: one class per RFC error code, built from the registry so a reason can
// never answer a different status on one surface than on another. `detail` is for logs only.
import { ServiceError } from '@caracal/service-kit';
import { CLASS_ANSWERS, type Surface } from './classes.js';
import { DENY_REASONS, isDenyReason, type DenyReason } from './reasons.js';

export class DenyError extends ServiceError {
  constructor(
    readonly reason: DenyReason,
    readonly surface: Surface,
    /** Public description; defaults to the registry's. */
    description: string = DENY_REASONS[reason].description,
    /** Logged, never returned. */
    readonly detail?: string,
    headers: Record<string, string> = {},
  ) {
    const answer = answerFor(reason, surface);
    super(answer.status, answer.error, description, headers);
  }
}

export function answerFor(reason: DenyReason, surface: Surface) {
  return CLASS_ANSWERS[DENY_REASONS[reason].class][surface];
}

/**
 * The answer for a reason that came from elsewhere (e.g. the STS's verdict read by the gateway). An unknown
 * reason is a contract violation between services, so it is treated as a forbidden decision, never as an allow.
 */
export function answerForAny(reason: string, surface: Surface) {
  return isDenyReason(reason) ? answerFor(reason, surface) : CLASS_ANSWERS.forbidden[surface];
}

export type { DenyReason };
