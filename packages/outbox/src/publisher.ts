// How the relay sends a batch: signed XADDs (R-STR-2) on bounded streams, pipelined, one answer per message.
import type { Redis } from 'ioredis';
import { signedEntry, STREAM_MAXLEN, type StreamKeys } from '@caracal/streams';

export interface OutboxMessage {
  /** The event id (the outbox row's id), also carried in `fields` as `event_id`. */
  id: string;
  stream: string;
  fields: Record<string, string>;
}

/**
 * Publishes the messages; the answer at index i is undefined when message i was published, an `UnreachedError` when
 * it did not reach Redis (the connection failed), else why Redis or the signing refused it.
 */
export type Publish = (messages: readonly OutboxMessage[]) => Promise<Array<Error | undefined>>;

/** A message that never reached Redis: a failure of the connection, not of the message. */
export class UnreachedError extends Error {
  override readonly name = 'UnreachedError';
}

/** Redis answered the command with an error (WRONGTYPE, OOM, …): the message reached it and was refused. */
const isReply = (err: Error): boolean => err.name === 'ReplyError';

const unreached = (err: unknown) => new UnreachedError((err as Error)?.message || String(err));

/** Refuses an empty key: a message is never sent with an HMAC anyone could compute. */
export function redisPublisher(redis: Redis, keys: StreamKeys, hmacKey: string, maxLen: number = STREAM_MAXLEN): Publish {
  if (hmacKey === '') throw new TypeError('the outbox publisher needs a non-empty HMAC key');
  return async (messages) => {
    const answers: Array<Error | undefined> = messages.map(() => undefined);
    const pipeline = redis.pipeline();
    const sent: number[] = [];
    messages.forEach((m, i) => {
      try {
        pipeline.xadd(...signedEntry(keys, m.stream, m.fields, hmacKey, maxLen));
        sent.push(i);
      } catch (err) {
        answers[i] = err as Error;
      }
    });
    if (sent.length === 0) return answers;
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      // Redis unreachable: nothing of the batch was sent.
      for (const i of sent) answers[i] = unreached(err);
      return answers;
    }
    sent.forEach((i, n) => {
      const err = results ? results[n]?.[0] : new Error('pipeline was not executed');
      answers[i] = !err ? undefined : isReply(err) ? err : unreached(err);
    });
    return answers;
  };
}
