// chain_hmac recomputed from a row's bytes: HMAC-SHA256 (RFC 2104) over `content|prev` built from two one-shot
// SHA-256 calls on preallocated buffers, the bytes taken straight from a COPY tuple. Same value as chainHmac (a unit
// test holds them equal). The digests come back as 'binary' (latin1) strings, one character per byte: on Node 20,
// `hash()` with the 'buffer' encoding costs about 1–2 µs a call whatever the input, several times its cost with
// 'binary' or 'hex'.
import { createHash, hash, type KeyObject } from 'node:crypto';
import { chainHmac } from '@caracal/db';
import { HEX_DIGITS } from './binary-fields.js';

export const sha256Hex = (data: Uint8Array): string => hash('sha256', data, 'hex');

const BLOCK = 64;
const HEX_SHA256 = 64;
const PIPE = 0x7c;

export class ChainHmac {
  private readonly inner = Buffer.alloc(BLOCK + HEX_SHA256 * 2 + 1);
  private readonly outer = Buffer.alloc(BLOCK + 32);

  constructor(private readonly key: KeyObject) {
    let k = key.export();
    if (k.length > BLOCK) k = createHash('sha256').update(k).digest();
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = (k[i] ?? 0) ^ 0x36;
      this.outer[i] = (k[i] ?? 0) ^ 0x5c;
    }
    this.inner[BLOCK + HEX_SHA256] = PIPE;
  }

  /**
   * Whether the stored chain_hmac (the bytes at `hmacAt`, `hmacLen` of `buf`) is HMAC(key, content + "|" + prev),
   * compared byte by byte with the digest's lowercase hex, as a comparison of the texts would. `storedText`
   * gives the stored value as text for the rows the fast path does not fit.
   */
  matches(buf: Buffer, contentAt: number, contentLen: number, prevAt: number, prevLen: number, hmacAt: number, hmacLen: number, content: string, prev: string, storedText: () => string | null): boolean {
    if (contentLen !== HEX_SHA256 || prevLen !== HEX_SHA256) return chainHmac(this.key, content, prev) === storedText();
    if (hmacLen !== HEX_SHA256) return false;
    const d = this.digest(buf, contentAt, prevAt);
    // Always 32 for SHA-256; a shorter string would read as zero digits past its end.
    if (d.length !== 32) return false;
    for (let i = 0, at = hmacAt; i < 32; i++, at += 2) {
      const b = d.charCodeAt(i);
      if (buf[at] !== HEX_DIGITS[b >> 4] || buf[at + 1] !== HEX_DIGITS[b & 15]) return false;
    }
    return true;
  }

  /** The raw HMAC of content + "|" + prev, each 64 bytes of `buf`, as a 'binary' string (character i is byte i). */
  private digest(buf: Buffer, contentAt: number, prevAt: number): string {
    const inner = this.inner;
    for (let i = 0; i < HEX_SHA256; i++) {
      inner[BLOCK + i] = buf[contentAt + i]!;
      inner[BLOCK + HEX_SHA256 + 1 + i] = buf[prevAt + i]!;
    }
    this.outer.write(hash('sha256', inner, 'binary'), BLOCK, 'binary');
    return hash('sha256', this.outer, 'binary');
  }
}
