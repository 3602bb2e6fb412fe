// chain_hmac recomputed for the evidence pack's stream of rows: HMAC-SHA256 (RFC 2104) over `content|prev` built
// from two one-shot SHA-256 calls on preallocated buffers, the bytes taken straight from the COPY tuple. Same value
// as the ledger's chainHmac (a unit test holds them equal), about a third cheaper per row than createHmac.
import * as nodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chainHmac } from '@caracal/db';

type OneShot = (algorithm: string, data: Uint8Array, encoding: 'hex' | 'buffer') => string | Buffer;
// crypto.hash (one shot, no Hash object) is in Node 20.12 and later; read off the namespace, since a named import
// of it would not even load on an older 20.x, which falls back to createHash.
const hashOnce = (nodeCrypto as { hash?: OneShot }).hash;

export const sha256Hex: (data: Uint8Array) => string =
  typeof hashOnce === 'function' ? (data) => hashOnce('sha256', data, 'hex') as string : (data) => nodeCrypto.createHash('sha256').update(data).digest('hex');

const BLOCK = 64;
const HEX_SHA256 = 64;
const PIPE = 0x7c;

export class ChainHmac {
  private readonly inner = Buffer.alloc(BLOCK + HEX_SHA256 * 2 + 1);
  private readonly outer = Buffer.alloc(BLOCK + 32);

  constructor(private readonly key: KeyObject) {
    let k = key.export();
    if (k.length > BLOCK) k = nodeCrypto.createHash('sha256').update(k).digest();
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
    if (!hashOnce || contentLen !== HEX_SHA256 || prevLen !== HEX_SHA256) return chainHmac(this.key, content, prev);
    buf.copy(this.inner, BLOCK, contentAt, contentAt + HEX_SHA256);
    buf.copy(this.inner, BLOCK + HEX_SHA256 + 1, prevAt, prevAt + HEX_SHA256);
    (hashOnce('sha256', this.inner, 'buffer') as Buffer).copy(this.outer, BLOCK);
    return hashOnce('sha256', this.outer, 'hex') as string;
  }
}
