// The control socket's protocol ($CARACAL_HOME/data/supervisor.sock, JSON lines, one request and one reply per
// connection). Requests are validated here; the replies are what the supervisor and its clients agree on.
import { z } from 'zod';
import { SERVICE_NAMES } from '@caracal/db';
import type { SupervisorState } from './state.js';

const absolute = z.string().min(1).max(4096).refine((p) => p.startsWith('/'), 'must be an absolute path');
const version = z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'must be a version like 1.2.3');

export const controlRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status') }).strict(),
  z
    .object({
      type: z.literal('roll'),
      service: z.enum(SERVICE_NAMES),
      root: absolute,
      version,
      readyTimeoutMs: z.number().int().min(1000).max(600_000),
      /** Roll even when the service already runs from `root` (a rolling restart of the same code). */
      restart: z.boolean().optional(),
    })
    .strict(),
  z.object({ type: z.literal('handover'), root: absolute, version }).strict(),
  z.object({ type: z.literal('release') }).strict(),
]);

export type ControlRequest = z.infer<typeof controlRequest>;
export type RollRequest = Extract<ControlRequest, { type: 'roll' }>;
export type HandoverRequest = Extract<ControlRequest, { type: 'handover' }>;

/**
 * Why a request failed: `bad_request` (malformed, unknown service, a root without that version), `stopping` (the
 * supervisor is shutting down), `busy` (a worker was still starting when a handover was asked for), `held` (a roll
 * or handover while the workers wait for `caracal up` to release them), `not_ready` /
 * `exited` (a roll's new workers), `handover_failed` (the successor did not take over; nothing changed),
 * `internal` (an unexpected failure, logged).
 */
export type ControlError = 'bad_request' | 'stopping' | 'busy' | 'held' | 'not_ready' | 'exited' | 'handover_failed' | 'internal';

export interface FailedReply {
  ok: false;
  error: ControlError;
  detail: string;
  service?: string;
}

export type StatusReply = { ok: true; state: SupervisorState } | FailedReply;

export type RollReply =
  | { ok: true; service: string; unchanged: true; version: string }
  | { ok: true; service: string; from: { version: string }; to: { version: string }; ms: number }
  | FailedReply;

export type HandoverReply = { ok: true; pid: number } | FailedReply;

/** `released`: whether this request ended a hold (false: there was none, or it had ended already). */
export type ReleaseReply = { ok: true; released: boolean } | FailedReply;

export type ControlReply = StatusReply | RollReply | HandoverReply | ReleaseReply;

/** The line a successor sends its predecessor over IPC once it owns the control socket and the state file. */
export interface AdoptedMessage {
  type: 'adopted';
  pid: number;
}
