// What every command receives: output conventions and the environment (no globals; tests pass their own).
import type { Output } from '../output.js';

export interface Io {
  out: Output;
  env: NodeJS.ProcessEnv;
}

export function parsePort(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new Error(`${flag} must be a port number (1-65535)`);
    return n;
  };
}
