// Random hex strings (nonces, trace ids) drawn from a buffer of CSPRNG output filled a few kilobytes at a time:
// `randomBytes(16)` costs a call into OpenSSL and a new Buffer each time (about 2.4 µs on the project machine),
// a draw from the pool a copy. Every byte is handed out once; the pool is refilled only when it runs out.
import { randomFillSync } from 'node:crypto';

export class RandomPool {
  private readonly buf: Buffer;
  private at: number;

  constructor(
    size = 4096,
    private readonly fill: (buf: Buffer) => void = (b) => void randomFillSync(b),
  ) {
    this.buf = Buffer.alloc(size);
    this.at = size;
  }

  /** `bytes` fresh random bytes as lowercase hex. A draw larger than the pool is filled on its own. */
  hex(bytes: number): string {
    // A negative count would move the cursor back over bytes already handed out.
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be a non-negative integer, got ${bytes}`);
    if (bytes > this.buf.length) {
      const own = Buffer.alloc(bytes);
      this.fill(own);
      return own.toString('hex');
    }
    if (this.at + bytes > this.buf.length) {
      this.fill(this.buf);
      this.at = 0;
    }
    const out = this.buf.toString('hex', this.at, this.at + bytes);
    // What was handed out is not left readable in the pool.
    this.buf.fill(0, this.at, this.at + bytes);
    this.at += bytes;
    return out;
  }
}

const shared = new RandomPool();

/** `bytes` random bytes as hex, from this process's shared pool. */
export const randomHex = (bytes: number): string => shared.hex(bytes);
