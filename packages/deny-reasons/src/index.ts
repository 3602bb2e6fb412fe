// Named deny reasons, their classes and answers, and the typed error built from them (shared by STS, gateway, API).
export { CLASS_ANSWERS, type Answer, type ReasonClass, type Surface } from './classes.js';
export { DENY_REASONS, isDenyReason, type DenyReason } from './reasons.js';
export { answerFor, answerForAny, DenyError } from './deny-error.js';
