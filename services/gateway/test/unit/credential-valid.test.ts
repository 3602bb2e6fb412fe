// The directive's credential is checked before it is sent (issue 8 item 4): a value that could split a header or
// that node refuses outright answers 502 credential_invalid instead of a 500.
import { describe, expect, it } from 'vitest';
import { credentialValid } from '../../src/checks/credential-valid.js';
import { Denied, type Exchange } from '../../src/checks/exchange.js';
import type { Directive } from '../../src/sts-client.js';

const exchange = (placement: Directive['placement']) =>
  ({ ctx: {}, req: {}, name: 'r', resource: 'resource://r', directive: { placement } }) as unknown as Exchange;
const verdict = (placement: Directive['placement']) => {
  try {
    credentialValid(exchange(placement));
    return 'ok';
  } catch (err) {
    return err instanceof Denied ? `${err.statusCode} ${err.reason}` : `unexpected ${String(err)}`;
  }
};

describe('credentialValid', () => {
  it.each([
    ['header', 'authorization', 'Bearer abc.def-_~+/='],
    ['header', 'x-api-key', 'with space\tand tab'],
    ['query', 'api_key', 'a&b=c d/é'],
  ] as const)('sends a %s credential %s', (where, name, value) => {
    expect(verdict({ in: where, name, value })).toBe('ok');
  });

  it('sends nothing when there is no credential', () => {
    expect(verdict(null)).toBe('ok');
  });

  it.each([
    ['header', 'authorization', 'abc\r\nX-Injected: 1'],
    ['header', 'authorization', 'abc\u0000'],
    ['header', 'authorization', 'abc\u007f'],
    ['header', 'authorization', 'snow \u2603'],
    ['header', 'bad name', 'abc'],
    ['header', 'x-key\r\n', 'abc'],
    ['query', 'api_key', 'abc\nx'],
    ['query', 'api_key', 'lone \ud800 surrogate'],
    ['query', '', 'abc'],
  ] as const)('refuses a %s credential %j = %j with 502', (where, name, value) => {
    expect(verdict({ in: where, name, value })).toBe('502 credential_invalid');
  });
});
