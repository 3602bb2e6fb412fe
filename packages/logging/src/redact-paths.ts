// Paths pino must censor: credentials may arrive in headers, bodies or our own log fields (R-SHAPE-4, R-SEC-2).

const SENSITIVE_FIELDS = [
  'password',
  'secret',
  'client_secret',
  'clientSecret',
  'token',
  'access_token',
  'refresh_token',
  'subject_token',
  'actor_token',
  'credential',
  'authorization',
  'cookie',
  'databaseUrl',
  'redisUrl',
];

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  ...SENSITIVE_FIELDS,
  ...SENSITIVE_FIELDS.map((f) => `*.${f}`),
];
