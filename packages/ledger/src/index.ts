// The audit ledger: event canonicalisation, chain append and verification, published heads, exports.
export { canonicalJson } from './canonical-json.js';
export { parseAuditMessage, canonicalEvent, contentFields, HASH_VERSION, MAX_EVENT_BYTES, type HashVersion, type LedgerEvent, type ParseResult, type RejectReason } from './event.js';
export { appendFromTips, appendZoneBatch, contentSha256, ChainBehindHead, type AppendResult, type AppendStatus, type ChainTip, type ExpectedHead, type TipBatch } from './append.js';
export { ChainVerifier, rowContentSha256, MAX_REPORTED_BREAKS, type BreakKind, type ChainBreak, type ChainAnchor, type StoredRow, type ZoneReport } from './verify-chain.js';
export { verifyZone, readAnchor, anchorVouched, type VerifyDeps } from './verify-zone.js';
export { CHAIN_WALK, chainRowChecker, chainSelect, copyChain, ContentHasher, storedRow, type CheckedRow, type SeqRange } from './row-bytes.js';
export { int8At, TimestampText, uuidText, writeUuid } from './binary-fields.js';
export { BinaryTupleReader, copyStatement, copyTuples, type CopyClient, type Tuple } from './copy-tuples.js';
export { ChainHmac, sha256Hex } from './hmac-bytes.js';
export { signHead, headSignatureValid, publishHead, publishHeads, readHead, readHeads, headKey, type ChainHead, type MarkKind } from './chain-head.js';
export { recordHeadMark, readHeadMark, publishChainHead } from './head-marks.js';
export { ROW_COLUMNS, isoSql, toLedgerRow, type LedgerRow } from './columns.js';
export { parquetBytes, jsonlBytes, writeExport, writeDurably, syncDir, ExportExists, EXPORT_FORMATS, type ExportFormat, type ExportManifest } from './export-files.js';
export type { DlqItem } from './dlq-item.js';
