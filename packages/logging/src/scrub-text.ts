// Censors credentials inside free text (messages, error messages, stacks): bearer/basic credentials, JWTs,
// `name=value` pairs of sensitive parameters, URL passwords, and the exact values of known secrets.

export const CENSOR = '[redacted]';

const TEXT_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // RFC 6750 §2.1 / RFC 7617: the credential after an auth scheme.
  [/\b(Bearer|Basic|DPoP)(\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1$2${CENSOR}`],
  // A compact JWS/JWT (RFC 7515 §7.1) anywhere: base64url header starting with `{"`.
  [/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, CENSOR],
  // Form or query parameters that carry credentials (RFC 6749 §2.3.1, RFC 8693 §2.1).
  [/\b([A-Za-z_]*(?:secret|token|password|passwd|credential)[A-Za-z_]*)=[^&\s"',;]+/gi, `$1=${CENSOR}`],
  // userinfo password in a URL (RFC 3986 §3.2.1).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi, `$1${CENSOR}@`],
];

/** Secrets shorter than this are not matched as text: a short value would censor ordinary words. */
const MIN_SECRET_LENGTH = 8;

export function textScrubber(secrets: readonly string[]): (text: string) => string {
  const known = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(CENSOR);
    for (const [pattern, replacement] of TEXT_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}
