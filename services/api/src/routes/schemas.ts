// JSON schemas shared by the api routes: every body closed to unknown fields, every response shaped so no
// column (a secret hash, a sealed credential) can leak by accident (R-API-1).

export const zoneParam = {
  type: 'object',
  additionalProperties: false,
  required: ['zone'],
  properties: { zone: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' } },
} as const;

export const zoneAndId = (name: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    required: ['zone', name],
    properties: { ...zoneParam.properties, [name]: { type: 'string', format: 'uuid' } },
  }) as const;

export const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
} as const;

export const scopeItem = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:._/-]+$' } as const;
export const scopeList = { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: scopeItem } as const;
export const labelList = { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9:._=-]+$' } } as const;

export const ts = { type: 'string', format: 'date-time' } as const;
export const nullableTs = { type: ['string', 'null'], format: 'date-time' } as const;

export const zoneOut = { type: 'object', properties: { id: { type: 'string' }, slug: { type: 'string' }, name: { type: 'string' }, created_at: ts } } as const;

export const applicationOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    client_id: { type: 'string' },
    name: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    created_at: ts,
    secret_rotated_at: nullableTs,
    disabled_at: nullableTs,
  },
} as const;

export const applicationWithSecretOut = {
  type: 'object',
  properties: { ...applicationOut.properties, client_secret: { type: 'string' } },
} as const;

export const operationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['method', 'path', 'scope'],
  properties: {
    method: { type: 'string', enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*'] },
    path: { type: 'string', minLength: 1, maxLength: 512, pattern: '^/[A-Za-z0-9/_.~:@!$&\'()+,;=%-]*\\*?$' },
    scope: scopeItem,
  },
} as const;

export const placementSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['in', 'name'],
  properties: {
    in: { type: 'string', enum: ['header', 'query'] },
    name: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
    prefix: { type: 'string', maxLength: 64, pattern: '^[\\x20-\\x7e]*$' },
  },
} as const;

export const resourceOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    identifier: { type: 'string' },
    upstream_url: { type: 'string' },
    has_credential: { type: 'boolean' },
    auth_placement: placementSchema,
    operations: { type: 'array', items: { type: 'object', properties: operationSchema.properties } },
    created_at: ts,
  },
} as const;

export const grantOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    application_id: { type: 'string' },
    resource_id: { type: 'string' },
    resource: { type: 'string' },
    client_id: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    scopes: { type: 'array', items: { type: 'string' } },
    approval_scopes: { type: 'array', items: { type: 'string' } },
    max_ttl_seconds: { type: 'integer' },
    created_at: ts,
  },
} as const;

export const list = (item: object) => ({ type: 'object', properties: { items: { type: 'array', items: item } } }) as const;
