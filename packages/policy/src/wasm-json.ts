// JSON values between JavaScript and an OPA wasm module's memory, through the module's own parser and dumper
// (opa_json_parse, opa_json_dump), as the opa-wasm SDK moves them; without the SDK's per-call TextEncoder,
// TextDecoder and copies, since every evaluation and every call of a JavaScript builtin moves several values.

export interface JsonExports {
  opa_malloc(bytes: number): number;
  opa_free(addr: number): void;
  opa_json_parse(addr: number, length: number): number;
  opa_json_dump(value: number): number;
}

/** A module's linear memory (WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

export class ModuleJson {
  private view: Buffer;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly memory: WasmMemory,
    private readonly x: JsonExports,
  ) {
    this.view = Buffer.from(memory.buffer);
  }

  /** The module's memory as bytes; a new view after the memory grew (growing detaches the old buffer). */
  bytes(): Buffer {
    if (this.view.buffer !== this.memory.buffer) this.view = Buffer.from(this.memory.buffer);
    return this.view;
  }

  /** The NUL-terminated UTF-8 text at `addr`. */
  text(addr: number): string {
    const heap = this.bytes();
    const end = heap.indexOf(0, addr);
    if (end < 0) throw new Error('a string of the module is not terminated');
    return heap.toString('utf8', addr, end);
  }

  /** The JSON value `value` points to, dumped by the module (the dump is freed again). */
  read(value: number): unknown {
    const dumped = this.x.opa_json_dump(value);
    const text = this.text(dumped);
    this.x.opa_free(dumped);
    return JSON.parse(text);
  }

  /**
   * Writes `text` (JSON) at `addr` when its UTF-8 fits in `capacity` bytes: the number of bytes written, or -1 when
   * it does not fit.
   */
  encodeAt(text: string, addr: number, capacity: number): number {
    const { read, written } = this.encoder.encodeInto(text, this.bytes().subarray(addr, addr + capacity));
    return read === text.length ? written : -1;
  }

  /** Parses `text` (JSON) in the module through a buffer of its heap, freed again (the parser copies what it keeps). */
  parseText(text: string): number {
    const capacity = text.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
    const raw = this.x.opa_malloc(capacity);
    const value = this.x.opa_json_parse(raw, this.encodeAt(text, raw, capacity));
    this.x.opa_free(raw);
    return value;
  }

  /** `value` as a module value: 0 for undefined (the ABI's undefined), as the SDK loads builtin results. */
  write(value: unknown): number {
    if (value === undefined) return 0;
    const text = JSON.stringify(value) as string | undefined;
    const addr = text === undefined ? 0 : this.parseText(text);
    if (addr === 0) throw new Error('failed to parse json value');
    return addr;
  }
}
