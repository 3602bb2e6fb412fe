// What a service does with its broadcast reader's reports: a dropped message is counted and logged (R-STR-2); a
// failed read is logged at debug level, as the reader retries by itself.
import type { Logger } from '@caracal/logging';
import type { BroadcastHooks } from '@caracal/streams';
import type { ServiceMetrics } from './metrics.js';

export function broadcastHooks(metrics: ServiceMetrics, logger: Logger): Pick<BroadcastHooks, 'onRejected' | 'onReadError'> {
  return {
    onRejected: (stream, msg, reason) => {
      metrics.streamRejected.inc({ stream, reason });
      logger.warn({ stream, stream_id: msg.id, reason }, 'stream message dropped');
    },
    onReadError: (err) => logger.debug({ err: { message: (err as Error).message } }, 'broadcast stream read failed'),
  };
}
