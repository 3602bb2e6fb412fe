// The resource a request targets, the application's grant on it, and the operation → scope rules.
export interface Operation {
  method: string;
  path: string;
  scope: string;
}

export interface ResourceGrant {
  resourceId: string;
  identifier: string;
  upstreamUrl: string;
  operations: Operation[];
  placement: { in: 'header' | 'query'; name: string; prefix?: string };
  credentialSealed: Buffer | null;
  /** null when the application holds no grant on this resource. */
  grant: { scopes: string[]; maxTtlSeconds: number; approvalScopes: string[] } | null;
}

/** The scope an operation needs: the first rule whose method and path (exact, or prefix with a trailing *) match. */
export function requiredScope(ops: readonly Operation[], method: string, path: string): string | null {
  const pathOnly = path.split('?')[0] ?? path;
  for (const op of ops) {
    if (op.method !== '*' && op.method !== method.toUpperCase()) continue;
    const matches = op.path.endsWith('*') ? pathOnly.startsWith(op.path.slice(0, -1)) : pathOnly === op.path;
    if (matches) return op.scope;
  }
  return null;
}
