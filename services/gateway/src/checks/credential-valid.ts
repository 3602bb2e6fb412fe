// Check: the credential the directive injects can be sent as it is. A stored value with CR, LF or NUL would let
// a header be split (RFC 9110 §5.5) and makes node refuse the request outright; it is refused here with 502,
// after the mandate was spent, so the event is audited rather than lost in a 500 (R-GW-2).
import { deny, established, type Exchange } from './exchange.js';

// RFC 9110 §5.6.2 token: what a header name may be.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 9110 §5.5 field-value: visible ASCII, obs-text, space and tab; no other control character.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// A query value is percent-encoded on the way out, so only control characters and broken UTF-16 are refused.
const QUERY_VALUE = /^[^\x00-\x1f\x7f]*$/;

function encodable(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

const queryPart = (s: string) => QUERY_VALUE.test(s) && encodable(s);

export function credentialValid(x: Exchange): void {
  const placement = established(x.directive, 'the directive').placement;
  if (!placement) return;
  const ok =
    placement.in === 'header'
      ? TOKEN.test(placement.name) && FIELD_VALUE.test(placement.value)
      : placement.name !== '' && queryPart(placement.name) && queryPart(placement.value);
  if (!ok) throw deny(x, 'credential_invalid');
}
