// How the relay sends a batch: signed XADDs (R-STR-2) on bounded streams, pipelined, one answer per message.
import type { Redis } from 'ioredis';
import { signedEntry, STREAM_MAXLEN, type StreamKeys } from '@caracal/streams';

export interface OutboxMessage {
  /** The event id (the outbox row's id), also carried in `fields` as `event_id`. */
  id: string;
  stream: string;
  fields: Record<string, string>;
}

/** Publishes the messages; the answer at index i is undefined when message i was published, else why not. */
export type Publish = (messages: readonly OutboxMessage[]) => Promise<Array<Error | undefined>>;

export function redisPublisher(redis: Redis, keys: StreamKeys, hmacKey: string, maxLen: number = STREAM_MAXLEN): Publish {
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
      for (const i of sent) answers[i] = err as Error;
      return answers;
    }
    sent.forEach((i, n) => (answers[i] = results?.[n]?.[0] ?? (results ? undefined : new Error('pipeline was not executed'))));
    return answers;
  };
}
