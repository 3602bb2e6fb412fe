// The non-text columns of a chain row as a binary COPY sends them (int8, int2, uuid, timestamptz), turned into the
// text the content hash covers in Node rather than by `::text` and `to_char` in PostgreSQL: sending them in binary
// halved the server's cost of producing a row for verification. Each value is written as the server would have
// rendered it (a test holds the two equal against the server over the whole timestamptz range).

const TWO_32 = 4294967296;
// 2^32 = 4,294 × 10^6 + 967,296: a microsecond count split into hi/lo int32 halves is divided into seconds exactly
// in doubles (the count itself, up to 2^63, is not exact in one).
const TWO_32_S = 4294;
const TWO_32_REM_US = 967_296;
/** Seconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC). */
const PG_EPOCH_S = 946_684_800;
const DAY_S = 86_400;
/** The ASCII codes of the lowercase hex digits. */
export const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;

/** A big-endian int8 as a number (as Number() of its text: exact up to 2^53). */
export const int8At = (buf: Buffer, at: number): number => buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);

/** Writes the 16 bytes at `at` as a lowercase hyphenated UUID (36 bytes) into `out` at `pos`; returns the new position. */
export function writeUuid(out: Buffer, pos: number, buf: Buffer, at: number): number {
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[pos++] = DASH;
    const b = buf[at + i]!;
    out[pos++] = HEX_DIGITS[b >> 4]!;
    out[pos++] = HEX_DIGITS[b & 15]!;
  }
  return pos;
}

export function uuidText(buf: Buffer, at: number): string {
  const out = Buffer.allocUnsafe(36);
  writeUuid(out, 0, buf, at);
  return out.toString('latin1');
}

/** Proleptic Gregorian year, month and day of a day count from 1970-01-01 (valid far beyond timestamptz's range). */
function civil(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` of a binary timestamptz (int8 microseconds from
 * 2000-01-01 UTC), written into byte buffers. Milliseconds are truncated, a year BC is shown by its number (1 BC as
 * 0001), a year past 9999 with all its digits, and ±infinity renders as NULL (nothing written), all as the server
 * does. Rows of one window mostly share their second: the text up to the second is kept for the last one seen.
 */
export class TimestampText {
  private second = Number.NaN;
  private prefix = Buffer.alloc(32);
  private prefixLen = 0;
  private millis = 0;

  /** Reads the value into `second`, `prefix` and `millis`; false for ±infinity (NULL). */
  private load(buf: Buffer, at: number): boolean {
    const hi = buf.readInt32BE(at);
    const lo = buf.readUInt32BE(at + 4);
    if ((hi === 0x7fffffff && lo === 0xffffffff) || (hi === -0x80000000 && lo === 0)) return false;
    const rest = hi * TWO_32_REM_US + lo;
    const carry = Math.floor(rest / 1_000_000);
    const second = hi * TWO_32_S + carry + PG_EPOCH_S;
    if (second !== this.second) {
      const days = Math.floor(second / DAY_S);
      const inDay = second - days * DAY_S;
      const [y, m, d] = civil(days);
      const year = String(y <= 0 ? 1 - y : y).padStart(4, '0');
      const text = `${year}-${two(m)}-${two(d)}T${two(Math.floor(inDay / 3600))}:${two(Math.floor(inDay / 60) % 60)}:${two(inDay % 60)}.`;
      this.prefixLen = this.prefix.write(text, 0, 'latin1');
      this.second = second;
    }
    this.millis = Math.floor((rest - carry * 1_000_000) / 1000);
    return true;
  }

  /** Writes the text into `out` at `pos` (nothing for ±infinity); returns the new position. `out` must have 32 bytes free. */
  write(out: Buffer, pos: number, buf: Buffer, at: number): number {
    if (!this.load(buf, at)) return pos;
    const prefix = this.prefix;
    for (let i = 0; i < this.prefixLen; i++) out[pos++] = prefix[i]!;
    const ms = this.millis;
    out[pos++] = 0x30 + Math.floor(ms / 100);
    out[pos++] = 0x30 + (Math.floor(ms / 10) % 10);
    out[pos++] = 0x30 + (ms % 10);
    out[pos++] = 0x5a;
    return pos;
  }

  text(buf: Buffer, at: number): string | null {
    const out = Buffer.allocUnsafe(32);
    const end = this.write(out, 0, buf, at);
    return end === 0 ? null : out.toString('latin1', 0, end);
  }
}
