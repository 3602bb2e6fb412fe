// chain_hmac recomputed from a row's bytes: HMAC-SHA256 (RFC 2104) over `content|prev` built from two one-shot
// SHA-256 calls on preallocated buffers, the bytes taken straight from a COPY tuple. Same value as chainHmac (a unit
// test holds them equal), about a third cheaper per row than createHmac.
import { createHash, hash, type KeyObject } from 'node:crypto';
import { chainHmac } from '@caracal/db';

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
   * HMAC(key, content + "|" + prev) in hex, where `content` and `prev` are the UTF-8 bytes at the given ranges of
   * `buf`; their decoded text is passed too for the rows the fast path does not fit (a forged, odd-length value).
   */
  hex(buf: Buffer, contentAt: number, contentLen: number, prevAt: number, prevLen: number, content: string, prev: string): string {
    if (contentLen !== HEX_SHA256 || prevLen !== HEX_SHA256) return chainHmac(this.key, content, prev);
    buf.copy(this.inner, BLOCK, contentAt, contentAt + HEX_SHA256);
    buf.copy(this.inner, BLOCK + HEX_SHA256 + 1, prevAt, prevAt + HEX_SHA256);
    hash('sha256', this.inner, 'buffer').copy(this.outer, BLOCK);
    return hash('sha256', this.outer, 'hex');
  }
}
