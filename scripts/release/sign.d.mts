// Types for sign.mjs, so TypeScript tests can re-sign a tampered release.
import type { KeyObject } from 'node:crypto';
export declare class ReleaseKeyError extends Error {}
export interface ReleaseKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyid: string;
}
export declare function loadReleaseKey(privateFile: string, publicFile: string): ReleaseKey;
export declare function signSums(sums: string, key: ReleaseKey): Promise<{ bundleJson: string; der: Buffer }>;
export declare function signStatement(statement: unknown, key: ReleaseKey): string;
