// The platform a release declares in its signed manifest.json (`platform: {os: [...], node: "<range>"}`) against
// the host the upgrade runs on. A release that declares none is refused: it cannot be shown to fit.
import { CliError } from '../errors.js';
import { MANIFEST_FILE } from '../release/format.js';
import { satisfiesRange } from './versions.js';

export interface Host {
  os: NodeJS.Platform;
  node: string;
}

export const thisHost = (): Host => ({ os: process.platform, node: process.versions.node });

export function checkPlatform(manifest: unknown, version: string, host: Host): void {
  const platform = (manifest as { platform?: unknown } | null)?.platform;
  const where = `${MANIFEST_FILE} of release ${version}`;
  if (typeof platform !== 'object' || platform === null) throw new CliError(`${where} declares no platform; nothing was changed`, 1, 'build the release with scripts/release, which records the platform');
  const { os, node } = platform as { os?: unknown; node?: unknown };
  if (!Array.isArray(os) || !os.every((o) => typeof o === 'string') || typeof node !== 'string') {
    throw new CliError(`${where} has a malformed platform (expected {"os": [...], "node": "<range>"}); nothing was changed`);
  }
  if (!os.includes(host.os)) throw new CliError(`release ${version} is built for ${os.join(', ') || 'no operating system'} (${where}), not for this host (${host.os}); nothing was changed`);
  let fits: boolean;
  try {
    fits = satisfiesRange(host.node, node);
  } catch (e) {
    throw new CliError(`${where}: ${(e as Error).message}; nothing was changed`);
  }
  if (!fits) throw new CliError(`release ${version} needs Node ${node} (${where}); this host runs Node ${host.node}; nothing was changed`);
}
