// The transactional outbox (R-STR-5): messages queued in the caller's transaction and the relay that publishes them.
export { enqueue, enqueueAll, EVENT_ID_FIELD } from './enqueue.js';
export { OutboxRelay, type NoPublish, type RelayCounts, type RelayLog, type RelayOptions, type RelaySettings } from './relay.js';
export { redisPublisher, UnreachedError, type OutboxMessage, type Publish } from './publisher.js';
export { backoffMs, type Backoff } from './backoff.js';
