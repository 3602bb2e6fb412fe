// JSON schemas of the audit routes: closed query strings and bodies, and responses that name every field they
// return, so a DLQ entry's signature or any column added later cannot leak by accident (R-API-1).

export const str = { type: 'string' } as const;
export const nstr = { type: ['string', 'null'] } as const;
export const nint = { type: ['integer', 'null'] } as const;
/** Query values arrive as text (no type coercion); the handlers read them and name the parameter on refusal. */
export const queryText = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;

export const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    decision: { type: 'string', enum: ['allow', 'deny'] },
    request_id: queryText(1024),
    type: queryText(128),
    limit: queryText(16),
    cursor: queryText(256),
  },
} as const;

export const dlqQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: queryText(16), cursor: queryText(256) },
} as const;

export const STREAM_ID_PATTERN = '^[0-9]{1,20}-[0-9]{1,20}$';

export const replayBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ids: { type: 'array', minItems: 1, maxItems: 500, uniqueItems: true, items: { type: 'string', pattern: STREAM_ID_PATTERN } },
    all: { type: 'boolean', enum: [true] },
  },
} as const;

/** Nothing to send; a body, if any, must be empty. */
export const emptyBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

export const ledgerRowOut = {
  type: 'object',
  properties: {
    event_id: str,
    zone_id: str,
    chain_seq: { type: 'integer' },
    occurred_at: str,
    recorded_at: str,
    source: str,
    event_type: str,
    decision: nstr,
    reason: nstr,
    request_id: nstr,
    application_id: nstr,
    resource: nstr,
    subject: nstr,
    data: {},
    content_sha256: str,
    prev_content_sha256: str,
    chain_hmac: str,
  },
} as const;

export const page = (item: object) => ({ type: 'object', properties: { items: { type: 'array', items: item }, next_cursor: nstr } }) as const;

export const zoneReportOut = {
  type: 'object',
  properties: {
    zone_id: str,
    ok: { type: 'boolean' },
    checked: { type: 'integer' },
    first_seq: nint,
    last_seq: nint,
    last_content_sha256: nstr,
    anchor: { type: ['object', 'null'], properties: { through_seq: { type: 'integer' }, content_sha256: str } },
    published_head: { type: ['object', 'null'], properties: { seq: { type: 'integer' }, content_sha256: str, published_at: str } },
    recorded_head: { type: ['object', 'null'], properties: { seq: { type: 'integer' }, content_sha256: str, published_at: str } },
    breaks: { type: 'array', items: { type: 'object', properties: { zone_id: str, seq: { type: 'integer' }, kind: str, detail: str } } },
    breaks_omitted: { type: 'integer' },
    warnings: { type: 'array', items: str },
  },
} as const;

export const dlqItemOut = {
  type: 'object',
  properties: {
    id: str,
    reason: nstr,
    detail: nstr,
    source_id: nstr,
    deliveries: nint,
    dead_lettered_at: nstr,
    event_id: nstr,
    zone_id: nstr,
    type: nstr,
    data_bytes: nint,
  },
} as const;

export const replayOut = {
  type: 'object',
  properties: {
    replayed: { type: 'array', items: str },
    skipped: { type: 'array', items: { type: 'object', properties: { id: str, reason: str } } },
  },
} as const;
