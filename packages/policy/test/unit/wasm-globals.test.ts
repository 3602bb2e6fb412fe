// The count of mutable globals decides whether a module's memory holds its whole state between calls (abi-evaluate.ts
// copies snapshots back only then): it must count defined and imported ones, and give up on what it cannot read.
import { describe, expect, it } from 'vitest';
import { mutableGlobals } from '../../dist/wasm-globals.js';

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const section = (id: number, body: number[]) => [id, body.length, ...body];
const name = (s: string) => [s.length, ...Buffer.from(s)];
const I32_MUT_STACK = [0x7f, 0x01, 0x41, 0x80, 0x80, 0x04, 0x0b]; // mut i32 = 65536
const I32_CONST = [0x7f, 0x00, 0x41, 0x01, 0x0b];
const F64_MUT = [0x7c, 0x01, 0x44, 0, 0, 0, 0, 0, 0, 0x0b, 0x40, 0x0b]; // mut f64 = 3.375 (a 0x0b byte inside the constant)
const IMPORTED_MUT = [...name('env'), ...name('g'), 0x03, 0x7f, 0x01];
const IMPORTED_MEMORY = [...name('env'), ...name('memory'), 0x02, 0x01, 0x02, 0x08];

const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } };
const module = (...sections: number[][]) => {
  const bytes = new Uint8Array([...HEADER, ...sections.flat()]);
  expect(wasm.validate(bytes)).toBe(true);
  return bytes;
};

describe('mutableGlobals', () => {
  it('counts the defined mutable globals, not the constant ones', () => {
    expect(mutableGlobals(module(section(6, [2, ...I32_MUT_STACK, ...I32_CONST])))).toBe(1);
    expect(mutableGlobals(module(section(6, [3, ...I32_MUT_STACK, ...F64_MUT, ...I32_CONST])))).toBe(2);
    expect(mutableGlobals(module())).toBe(0);
  });

  it('counts imported mutable globals, past other imports', () => {
    expect(mutableGlobals(module(section(2, [2, ...IMPORTED_MEMORY, ...IMPORTED_MUT]), section(6, [1, ...I32_MUT_STACK])))).toBe(2);
  });

  it('gives up on a truncated binary or an unknown value type', () => {
    const whole = module(section(6, [2, ...I32_MUT_STACK, ...I32_CONST]));
    expect(mutableGlobals(whole.subarray(0, whole.length - 3))).toBeUndefined();
    expect(mutableGlobals(new Uint8Array([...HEADER, ...section(6, [1, 0x55, 0x01, 0x41, 0x00, 0x0b])]))).toBeUndefined();
  });
});
