// Path guard (R-GW-1): traversal is refused in every encoding; safe targets are forwarded byte for byte.
import { describe, expect, it } from 'vitest';
import { checkForwardPath, MAX_FORWARD_PATH_BYTES } from '../../src/proxy/path-guard.js';

/** `%` + `25`×(n-1) + `hex`: a byte that takes n rounds of percent-decoding to appear. */
const encodedTimes = (hex: string, n: number): string => `%${'25'.repeat(n - 1)}${hex}`;

// [raw target, expected reason]
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['/../etc/passwd', 'dot segment in path'],
  ['/a/../../b', 'dot segment in path'],
  ['/a/..', 'dot segment in path'],
  ['/./a', 'dot segment in path'],
  ['/a/%2e/b', 'dot segment in path'],
  ['/%2e%2e/x', 'dot segment in path'],
  ['/%2E%2E/x', 'dot segment in path'],
  ['/.%2e/x', 'dot segment in path'],
  ['/%2e./x', 'dot segment in path'],
  ['/%252e%252e/x', 'dot segment in path'],
  ['/%25252e%25252e/x', 'dot segment in path'],
  ['/..%2fx', 'dot segment in path'],
  ['/..%2Fx', 'dot segment in path'],
  ['/a%2f..%2fb', 'dot segment in path'],
  ['/a%252f..%252fb', 'dot segment in path'],
  ['/..;/x', 'dot segment in path'],
  ['/%2e%2e%3bjsessionid=1/x', 'dot segment in path'],
  ['/.../x', 'dot segment in path'],
  ['/..%20/x', 'dot segment in path'],
  ['/%ef%bc%8e%ef%bc%8e/x', 'dot segment in path'],
  ['/..%5cx', 'backslash in path'],
  ['/..%5Cx', 'backslash in path'],
  ['/..%255cx', 'backslash in path'],
  ['/..\\x', 'backslash in path'],
  ['/a\\b', 'backslash in path'],
  ['/%c0%ae%c0%ae/x', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/%e0%80%ae/x', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/%ed%a0%80', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/%zz', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/%', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/%2', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/100%2525', 'malformed percent-encoding or invalid UTF-8 in path'],
  ['/a%00b', 'NUL byte in path'],
  ['/a%2500b', 'NUL byte in path'],
  ['/a%0d%0aX-Injected:%201', 'control character in path'],
  ['/a%7f', 'control character in path'],
  [`/${encodedTimes('2e', 6)}/x`, 'too many layers of percent-encoding'],
  [`/${encodedTimes('2e', 5)}${encodedTimes('2e', 5)}/x`, 'dot segment in path'],
  ['//evil.example/x', 'path starts with //'],
  ['/%2fevil.example/x', 'path starts with //'],
  ['relative', 'path must start with /'],
  ['', 'path must start with /'],
  ['?x=1', 'path must start with /'],
  ['%2f..%2fx', 'path must start with /'],
  ['/a b', 'path contains characters outside visible ASCII'],
  ['/a\tb', 'path contains characters outside visible ASCII'],
  ['/caf\u00e9', 'path contains characters outside visible ASCII'],
  ['/\uff0e\uff0e/x', 'path contains characters outside visible ASCII'],
  ['/a#frag', 'fragment not allowed in request target'],
  [`/${'a'.repeat(9000)}`, 'path too long'],
];

describe('checkForwardPath refuses (R-GW-1)', () => {
  it.each(REFUSED.map(([raw, reason]) => [raw.length > 60 ? `${raw.slice(0, 40)}… (${raw.length} chars)` : raw, raw, reason]))(
    'refuses %j',
    (_label, raw, reason) => {
      expect(checkForwardPath(raw)).toEqual({ ok: false, reason });
    },
  );
});

describe('checkForwardPath allows', () => {
  it.each([
    '/',
    '/v1/items?x=../y',
    '/v1/items?q=%zz&r=..\\..',
    '/v1/a.b/c..d',
    '/v1/%20space',
    '/v1/a%2fb',
    '/v1/%2541',
    '/.well-known/openid-configuration',
    '/v1/..a/b..',
    `/${encodedTimes('41', 5)}`,
  ])('forwards %j unchanged', (raw) => {
    expect(checkForwardPath(raw)).toEqual({ ok: true, path: raw });
  });

  it('accepts a target exactly at the length limit', () => {
    const raw = `/${'a'.repeat(MAX_FORWARD_PATH_BYTES - 1)}`;
    expect(checkForwardPath(raw)).toEqual({ ok: true, path: raw });
    expect(checkForwardPath(`${raw}a`)).toEqual({ ok: false, reason: 'path too long' });
  });
});
