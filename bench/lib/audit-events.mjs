// bench/lib/audit-events: signed audit events for the ledger benchmarks, published straight onto the audit stream
// as a producer would (R-STR-3), spread over the given zones.
import { randomUUID } from 'node:crypto';
import { signAuditData, STREAMS } from '../../packages/streams/dist/index.js';

export const auditEvent = (zone, i) => ({ id: randomUUID(), source: 'bench', occurred_at: new Date().toISOString(), zone_id: zone, type: 'mandate.issued', decision: i % 7 ? 'allow' : 'deny', reason: 'granted', request_id: randomUUID(), client_id: 'bench-client', resource: 'resource://bench', data: { i, scope: 'items:read', ttl: 900 } });

/** XADDs `count` signed events round-robin over `zones` in pipelines; `onChunk(sent)` after each pipeline. */
export async function publishAuditEvents(redis, keys, key, zones, count, onChunk) {
  // Pipelines of 2000, smaller on a small run so a caller watching progress gets to look part-way through.
  const chunk = Math.max(1, Math.min(2000, Math.ceil(count / 16)));
  for (let sent = 0; sent < count; sent += chunk) {
    const p = redis.pipeline();
    for (let i = sent; i < Math.min(count, sent + chunk); i++) {
      const s = signAuditData(JSON.stringify(auditEvent(zones[i % zones.length], i)), key);
      p.xadd(keys.key(STREAMS.auditEvents), '*', 'data', s.data, 'sig', s.sig);
    }
    await p.exec();
    await onChunk?.(sent + chunk);
  }
}
