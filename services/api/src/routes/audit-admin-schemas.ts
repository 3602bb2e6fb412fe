// JSON schemas of the admin-audit routes (R-AUD-5): a closed query string, and responses naming every field.

import { nint, nstr, queryText, str } from './audit-schemas.js';

export const adminEventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    action: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' },
    zone_id: { type: 'string', format: 'uuid' },
    limit: queryText(16),
    cursor: queryText(256),
  },
} as const;

export const adminRowOut = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    id: str,
    occurred_at: str,
    actor: str,
    action: str,
    zone_id: nstr,
    target: nstr,
    request_id: nstr,
    detail: {},
    content_sha256: str,
    prev_content_sha256: str,
    chain_hmac: str,
  },
} as const;

export const adminReportOut = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    checked: { type: 'integer' },
    first_seq: nint,
    last_seq: nint,
    last_content_sha256: nstr,
    breaks: { type: 'array', items: { type: 'object', properties: { seq: { type: 'integer' }, kind: str, detail: str } } },
    breaks_omitted: { type: 'integer' },
  },
} as const;
