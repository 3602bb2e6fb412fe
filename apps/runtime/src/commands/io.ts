// What every command receives: output conventions and the environment (no globals; tests pass their own).
import { InvalidArgumentError } from 'commander';
import type { Output } from '../output.js';

export interface Io {
  out: Output;
  env: NodeJS.ProcessEnv;
}

/** Flag parsers throw commander's InvalidArgumentError so a bad value is a usage error (exit 2). */
export function parsePort(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError(`${flag} must be a port number (1-65535)`);
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
    return Number(v);
  };
}
