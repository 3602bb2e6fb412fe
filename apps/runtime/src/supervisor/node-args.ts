// The Node.js command line of a worker. The audit service allocates many short-lived objects per event (parsed
// stream messages, canonical JSON, hashes, the rows' JSON); with V8's default young generation a quarter of its busy
// time went to garbage collection. A larger young generation fills less often, so more of those objects die before
// a collection copies them. V8 grows the space only under allocation pressure, so an idle worker's memory is the
// same. The STS and the gateway keep the default: with the larger space their p99 latency rose and their throughput
// did not (bench/RESULTS.md).
import type { ServiceName } from '@caracal/db';

/** Semi-space ceiling (MB) per service; the young generation is two of them. Absent: V8's default. */
export const YOUNG_SEMI_SPACE_MB: Readonly<Partial<Record<ServiceName, number>>> = { audit: 64 };

/** The arguments after the `node` executable for one worker of `service` started from `entry`. */
export function workerArgs(service: string, entry: string): string[] {
  const semi = YOUNG_SEMI_SPACE_MB[service as ServiceName];
  return semi === undefined ? [entry] : [`--max-semi-space-size=${semi}`, entry];
}
