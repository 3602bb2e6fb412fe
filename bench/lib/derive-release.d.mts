// Types for derive-release.mjs, so TypeScript tests can derive releases.
export declare function releaseVersion(dir: string): string;
export declare function patchFile(tree: string, file: string, find: string, replace: string): void;
export declare function labelMigration(number: number): { file: string; sql: string };
export declare function readsLabel(tree: string): void;
export interface DeriveOptions {
  from: string;
  outParent: string;
  version: string;
  key: { privateFile: string; publicFile: string };
  migrations?: Array<{ file: string; sql: string }>;
  patch?: (tree: string) => void;
  migrationManifest?: (manifest: Record<string, string>, dir: string) => Record<string, string>;
  platform?: unknown;
}
export declare function deriveRelease(o: DeriveOptions): Promise<string>;
