// How many mutable globals a wasm module has (defined or imported), read from its binary: the state of a module
// compiled by `opa build -t wasm` lies in its memory but for these, and it has one, the C stack pointer (which every
// successful call leaves as it found it). abi-evaluate.ts copies a snapshot of the memory back only for such modules.

/** The number of mutable globals, or undefined when the binary holds something this reader does not know. */
export function mutableGlobals(wasm: Uint8Array): number | undefined {
  let at = 8; // magic and version
  const byte = () => {
    if (at >= wasm.length) throw new RangeError('truncated');
    return wasm[at++]!;
  };
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      if (shift < 28) value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
  };
  const skip = (n: number) => {
    at += n;
    if (at > wasm.length) throw new RangeError('truncated');
  };
  // Number types, vector and the two reference types: one byte each.
  const valueType = () => {
    if (![0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(byte())) throw new RangeError('unknown value type');
  };
  const limits = () => {
    const flags = byte();
    leb();
    if (flags & 1) leb();
  };
  // A constant expression: i32/i64/f32/f64.const, global.get, ref.null, ref.func and the extended-const arithmetic.
  const constant = () => {
    for (;;) {
      const op = byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) leb();
      else if (op === 0x43) skip(4);
      else if (op === 0x44) skip(8);
      else if (op === 0xd0) byte();
      else if (![0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) throw new RangeError('unknown constant instruction');
    }
  };
  try {
    let mutable = 0;
    while (at < wasm.length) {
      const id = byte();
      const size = leb();
      const end = at + size;
      if (id === 2) {
        for (let n = leb(); n > 0; n--) {
          skip(leb()); // module name
          skip(leb()); // field name
          const kind = byte();
          if (kind === 0) leb();
          else if (kind === 1) {
            valueType();
            limits();
          } else if (kind === 2) limits();
          else if (kind === 3) {
            valueType();
            if (byte() === 1) mutable++;
          } else if (kind === 4) {
            byte();
            leb();
          } else return undefined;
        }
      } else if (id === 6) {
        for (let n = leb(); n > 0; n--) {
          valueType();
          if (byte() === 1) mutable++;
          constant();
        }
      }
      at = end;
    }
    return mutable;
  } catch {
    return undefined;
  }
}
