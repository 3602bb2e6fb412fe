// Which field names carry credentials (R-SEC-2): matched at any depth, whatever the case or separator style, so
// `Authorization`, `client_secret`, `clientSecret`, `STREAMS_HMAC_KEY` and `METRICS_BEARER` are all caught.

/** A normalised key (lower case, letters and digits only) is sensitive if it ends with one of these. */
const SENSITIVE_SUFFIXES = [
  'password',
  'passwd',
  'secret',
  'token',
  'credential',
  'credentials',
  'authorization',
  'bearer',
  'kek',
  'cookie',
  'apikey',
  'privatekey',
  'hmackey',
  'databaseurl',
  'redisurl',
];

const normalise = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

export function isSensitiveKey(key: string): boolean {
  const k = normalise(key);
  return SENSITIVE_SUFFIXES.some((suffix) => k.endsWith(suffix));
}

