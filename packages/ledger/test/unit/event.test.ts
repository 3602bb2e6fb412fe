// Canonicalisation of audit messages (R-STR-3, R-AUD-2): every refusal has its reason code, and the canonical
// form — and so the content hash — does not depend on key order or on how the producer spelt the time.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signAuditData } from '../../../streams/src/index.js';
import { canonicalEvent, canonicalJson, contentSha256, MAX_EVENT_BYTES, parseAuditMessage } from '../../src/index.js';

const KEY = 'ab'.repeat(32);
const zone = randomUUID();
const base = () => ({ id: randomUUID(), zone_id: zone, source: 'sts', type: 'mandate.issued', occurred_at: '2026-12-02T01:02:03.456Z', decision: 'allow', reason: 'granted', data: { b: 1, a: [true, null] } });
const signed = (e: unknown) => signAuditData(typeof e === 'string' ? e : JSON.stringify(e), KEY);

describe('parseAuditMessage', () => {
  it('accepts a signed event and canonicalises it', () => {
    const e = base();
    const r = parseAuditMessage(signed(e), KEY);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event).toMatchObject({ event_id: e.id, zone_id: zone, event_type: 'mandate.issued', decision: 'allow', request_id: null, occurred_at: e.occurred_at });
    expect(r.event.data).toBe(canonicalJson(e));
  });

  const cases: Array<[string, Record<string, string>, string]> = [
    ['no data field', { sig: 'ab'.repeat(32) }, 'missing_data'],
    ['no signature', { data: JSON.stringify(base()) }, 'bad_signature'],
    ['a signature by another key', signAuditData(JSON.stringify(base()), 'cd'.repeat(32)), 'bad_signature'],
    ['a signature over other data', { data: JSON.stringify(base()), sig: signed({ other: 1 }).sig }, 'bad_signature'],
    ['invalid JSON', signed('{"id": nope'), 'invalid_json'],
    ['a JSON array', signed('[1,2]'), 'invalid_json'],
    ['a JSON string', signed('"x"'), 'invalid_json'],
    ['no zone', signed({ ...base(), zone_id: undefined }), 'missing_zone'],
    ['an empty zone', signed({ ...base(), zone_id: '' }), 'missing_zone'],
    ['a zone that is not a UUID', signed({ ...base(), zone_id: 'acme' }), 'invalid_event'],
    ['an id that is not a UUID', signed({ ...base(), id: 'x' }), 'invalid_event'],
    ['an unknown decision', signed({ ...base(), decision: 'maybe' }), 'invalid_event'],
    ['a time that does not parse', signed({ ...base(), occurred_at: 'yesterday' }), 'invalid_event'],
    ['an impossible date (no rolling into March)', signed({ ...base(), occurred_at: '2025-02-30T00:00:00Z' }), 'invalid_event'],
    ['a time without a zone', signed({ ...base(), occurred_at: '2026-01-01T00:00:00' }), 'invalid_event'],
    ['an hour 24', signed({ ...base(), occurred_at: '2026-01-01T24:00:00Z' }), 'invalid_event'],
    ['a time before 2000', signed({ ...base(), occurred_at: '1999-12-31T23:59:59Z' }), 'invalid_event'],
    ['a type with spaces', signed({ ...base(), type: 'a b' }), 'invalid_event'],
    ['a reason with a control character', signed({ ...base(), reason: 'a\u001fb' }), 'invalid_event'],
    ['a NUL inside data', signed({ ...base(), data: { s: 'a\u0000b' } }), 'invalid_event'],
    ['a lone surrogate inside data', signed(`{"id":"${randomUUID()}","zone_id":"${zone}","source":"s","type":"t","occurred_at":"2026-01-01T00:00:00Z","data":{"s":"\\ud800"}}`), 'invalid_event'],
    ['an oversized event', signed({ ...base(), data: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }), 'oversized'],
  ];
  for (const [what, fields, reason] of cases) {
    it(`refuses ${what} as ${reason}`, () => {
      const r = parseAuditMessage(fields, KEY);
      expect(r).toMatchObject({ ok: false, reason });
      if (!r.ok) expect(r.detail.length).toBeGreaterThan(0);
    });
  }
});

describe('canonical form and content hash', () => {
  it('is independent of key order at every depth', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ y: 1, x: 2 }] }, a: 'é' })).toBe('{"a":"é","b":{"c":[{"x":2,"y":1}],"d":1}}');
  });

  it('normalises the time and treats empty optional fields as absent', () => {
    const e = base();
    const a = canonicalEvent({ ...e, occurred_at: '2026-12-02T02:02:03.456+01:00', request_id: '' });
    const b = canonicalEvent({ ...e, request_id: null });
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) {
      expect(a.event.occurred_at).toBe(b.event.occurred_at);
      expect(a.event.request_id).toBeNull();
    }
  });

  it('changes with any field, including a field only in data', () => {
    const e = canonicalEvent(base());
    if (!e.ok) throw new Error('expected ok');
    const h = contentSha256(e.event);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    for (const change of [{ decision: 'deny' }, { reason: 'other' }, { subject: 'x' }, { event_type: 'y' }, { data: e.event.data.replace('"b":1', '"b":2') }]) {
      expect(contentSha256({ ...e.event, ...change })).not.toBe(h);
    }
  });
});
