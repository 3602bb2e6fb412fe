// The canonical request target (R-GW-1, RFC 3986 §6.2.2): one spelling per path, ambiguous ones refused.
import { describe, expect, it } from 'vitest';
import { canonicalTarget } from '../../src/proxy/canonical-path.js';

describe('canonicalTarget normalises', () => {
  it.each([
    ['/%61dmin/secret', '/admin/secret'],
    ['/adm%69n', '/admin'],
    ['/%65xport', '/export'],
    ['/%41DMIN', '/ADMIN'],
    ['/%7Euser/%2D%2E%5F', '/~user/-._'],
    ['/a%40b%3Ac%21%24%26%27%28%29%2A%2B%2C%3D', "/a@b:c!$&'()*+,="],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/sp%20ace', '/sp%20ace'],
    ['/q"<>[]^`{|}', '/q%22%3C%3E%5B%5D%5E%60%7B%7C%7D'],
    ['/export/', '/export/'],
    ['/Items/7', '/Items/7'],
    ['/items?q=%61&r=..%2F;x', '/items?q=%61&r=..%2F;x'],
    ['/', '/'],
  ])('%s → %s', (raw, canonical) => {
    expect(canonicalTarget(raw)).toEqual({ ok: true, path: canonical });
  });

  it('is idempotent: the canonical form of a canonical form is itself', () => {
    for (const raw of ['/%61dmin/caf%c3%a9', '/q"<>', '/a%40b']) {
      const once = canonicalTarget(raw);
      expect(once.ok && canonicalTarget(once.path)).toEqual(once);
    }
  });
});

describe('canonicalTarget refuses', () => {
  it.each([
    ['/a%2Fb', 'encoded / in path'],
    ['/a%2fb', 'encoded / in path'],
    ['/a%3Bb', 'encoded ; in path'],
    ['/a%3fb', 'encoded ? in path'],
    ['/a%23b', 'encoded # in path'],
    ['/v1/%2541', 'encoded % in path'],
    ['/a;b', 'path parameter (;) in path'],
    ['/a;jsessionid=1/b', 'path parameter (;) in path'],
    ['/a%5Cb', 'backslash in path'],
    ['/a%00', 'NUL byte in path'],
    ['/a/%2e/b', 'dot segment in path'],
    ['/a/%2E%2E/b', 'dot segment in path'],
    ['//host/a', 'path starts with //'],
  ])('%s (%s)', (raw, reason) => {
    expect(canonicalTarget(raw)).toEqual({ ok: false, reason });
  });
});
