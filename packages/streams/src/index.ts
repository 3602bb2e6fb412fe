// Redis Streams: names, signatures (R-STR-2/3), idempotent groups, publishing, an ack-after-handling consumer and a
// per-instance broadcast reader.
export { STREAMS, STREAM_MAXLEN, dlqOf, type StreamName } from './names.js';
export { StreamKeys } from './keys.js';
export {
  ambiguousField,
  assertSignable,
  canonicalize,
  hmacHex,
  signFields,
  verifyFields,
  signAuditData,
  verifyAuditData,
  safeEqualHex,
  SIG_FIELD,
  type Fields,
  type FieldValue,
} from './sign.js';
export { ensureGroups, missingGroup, type GroupSpec } from './groups.js';
export { publishSigned, signedEntry, publishAudit, auditEntry, type SignedAudit } from './publish.js';
export { StreamConsumer, HANDOVER_CONSUMER, toFields, type ConsumerOptions, type ConsumerHooks, type StreamMessage, type Verdict, type Outcome } from './consumer.js';
export { BroadcastReader, type BroadcastReaderOptions, type BroadcastHandler, type BroadcastHooks } from './broadcast-reader.js';
export { createAuditEmitter, type AuditEmitter, type AuditEmitterOptions, type AuditEvent, type AuditEventInput } from './audit-emitter.js';
export { AuditSpill, DEFAULT_SPILL_MAX_BYTES, type AuditSpillOptions, type SpillStatus } from './audit-spill.js';
export { prepareSpillDir, SpillDirError } from './spill-dir.js';
export { nodeSpillFiles, type SpillFiles, type SpillLog, type AppendFile } from './spill-files.js';
export { revocationFields, type AnnouncedRevocation } from './revocation-message.js';
