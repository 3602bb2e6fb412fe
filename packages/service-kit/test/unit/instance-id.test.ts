// Instance ids: the supervisor's when given, else unique per process start and safe in a consumer name.
import { describe, expect, it } from 'vitest';
import { instanceId } from '../../src/instance-id.js';

describe('instanceId', () => {
  it('keeps the id the supervisor gave', () => {
    expect(instanceId('audit', 'audit-1.4.0-812-2', 'host', 1)).toBe('audit-1.4.0-812-2');
  });

  it('makes one from service, host and pid with a random suffix, different at every start', () => {
    expect(instanceId('gateway', undefined, 'web-1.example', 4242)).toMatch(/^gateway-web-1\.example-4242-[0-9a-f]{4}$/);
    // Two processes with one pid (one restarted, or in another container) still differ.
    expect(new Set(Array.from({ length: 50 }, () => instanceId('gateway', undefined, 'h', 1))).size).toBeGreaterThan(40);
  });

  it('replaces characters a host name may carry that a consumer name should not', () => {
    expect(instanceId('sts', undefined, 'bad host/ü', 7)).toMatch(/^sts-bad_host__-7-[0-9a-f]{4}$/);
    expect(instanceId('sts', undefined, '', 7)).toMatch(/^sts-host-7-[0-9a-f]{4}$/);
  });
});
