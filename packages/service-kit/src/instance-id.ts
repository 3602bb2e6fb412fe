// The id of one running process of a service: CARACAL_INSTANCE_ID when the supervisor set it, else made up here
// from the service, host, pid and a random suffix. It names the process's audit stream consumer and is reported
// to the supervisor, so no two live processes share one.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function instanceId(service: string, given: string | undefined, host: string = hostname(), pid: number = process.pid): string {
  if (given) return given;
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64) || 'host';
  return `${service}-${safeHost}-${pid}-${randomBytes(2).toString('hex')}`;
}
