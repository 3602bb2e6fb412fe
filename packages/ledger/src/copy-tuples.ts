// Streams `COPY (query) TO STDOUT (FORMAT binary)` through a pg client one tuple at a time, handing each tuple's
// field offsets to a callback: no row objects, no text unescaping, so a chain is read at close to the speed of the
// server producing it.
import type { PoolClient } from '@caracal/db';

/** Any pg client: a pooled one, or a plain `pg.Client` of a worker thread. */
export type CopyClient = Pick<PoolClient, 'query'>;

/** The fields of the tuple being handed out: byte offsets into `buf` and lengths (-1 for NULL). */
export interface Tuple {
  buf: Buffer;
  starts: Int32Array;
  lens: Int32Array;
}

// PostgreSQL's binary COPY signature, then an int32 of flags and an int32 header-extension length (COPY docs).
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = SIGNATURE.length + 8;

/**
 * Parses the CopyData messages of a binary COPY. The server sends exactly one row per message (protocol docs,
 * "COPY Operations"), the header in front of the first one and the trailer (-1) last; anything else is refused.
 */
export class BinaryTupleReader {
  private headerSeen = false;
  private ended = false;
  readonly tuple: Tuple;

  constructor(
    private readonly fields: number,
    private readonly onTuple: (t: Tuple) => void,
  ) {
    this.tuple = { buf: Buffer.alloc(0), starts: new Int32Array(fields), lens: new Int32Array(fields) };
  }

  get done(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    let at = 0;
    if (!this.headerSeen) {
      if (chunk.length < HEADER || !chunk.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY output is not in PostgreSQL binary format');
      at = HEADER + chunk.readInt32BE(SIGNATURE.length + 4);
      this.headerSeen = true;
    }
    while (at < chunk.length) {
      if (this.ended) throw new Error('COPY output continues after its trailer');
      const count = chunk.readInt16BE(at);
      at += 2;
      if (count === -1) {
        this.ended = true;
        continue;
      }
      if (count !== this.fields) throw new Error(`COPY tuple has ${count} fields, expected ${this.fields}`);
      const { starts, lens } = this.tuple;
      for (let f = 0; f < count; f++) {
        const n = chunk.readInt32BE(at);
        at += 4;
        starts[f] = at;
        lens[f] = n;
        if (n > 0) at += n;
      }
      if (at > chunk.length) throw new Error('COPY tuple is split across messages');
      this.tuple.buf = chunk;
      this.onTuple(this.tuple);
    }
  }
}

/**
 * A pg "submittable" (the hook pg-copy-streams uses): pg hands it the CopyData messages of its statement. The
 * callback runs synchronously on the socket's data, so a slow consumer slows the read and memory stays bounded.
 */
class CopyOut {
  private error: Error | undefined;
  private finished = false;
  /** Set by pg when the client has a query_timeout: calling it clears the timer pg started for this statement. */
  callback?: (err?: Error) => void;

  constructor(
    readonly text: string,
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly settle: (err?: Error) => void,
  ) {}

  submit(connection: { query: (text: string) => void }): null {
    connection.query(this.text);
    return null;
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.error) return;
    try {
      this.onChunk(msg.chunk);
    } catch (e) {
      this.error = e as Error;
    }
  }

  // pg drops the active query before reporting a server error, so no ReadyForQuery follows for it: settle now.
  handleError(err: Error): void {
    this.finish(err);
  }

  handleReadyForQuery(): void {
    this.finish(this.error);
  }

  handleCopyInResponse(connection: { sendCopyFail: (m: string) => void }): void {
    connection.sendCopyFail('this statement only reads');
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private finish(err?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.callback?.(err);
    this.settle(err);
  }
}

/** Runs a binary COPY of `select` and feeds every tuple of its `fields` columns to `onTuple`. */
export function copyTuples(client: CopyClient, select: string, fields: number, onTuple: (t: Tuple) => void): Promise<void> {
  const reader = new BinaryTupleReader(fields, onTuple);
  return new Promise((resolve, reject) => {
    const copy = new CopyOut(copyStatement(select), (chunk) => reader.push(chunk), (err) => {
      if (err) reject(err);
      else if (!reader.done) reject(new Error('COPY ended without its trailer'));
      else resolve();
    });
    (client as unknown as { query: (q: CopyOut) => unknown }).query(copy);
  });
}

export const copyStatement = (select: string) => `COPY (${select}) TO STDOUT (FORMAT binary)`;
