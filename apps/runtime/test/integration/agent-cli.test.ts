// `caracal agent …` against a managed stack (`caracal init` + `caracal up`, R-CO-1): start → child start → tree →
// suspend → resume → end (the subtree ends with it) through the CLI with --json and the operator's coordinator
// token from the home; a retried start with the same --idempotency-key replays; refusals name the flag or reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';

let stack: EvidenceStack;
let zoneId: string;
let applicationId: string;

async function json(args: string[]): Promise<any> {
  const r = await stack.cli([...args, '--json']);
  if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  stack = await startEvidenceStack('agent-cli');
  zoneId = (await json(['zone', 'create', 'agents', '--name', 'Agents'])).id;
  applicationId = (await json(['app', 'create', '--zone', 'agents', '--name', 'planner'])).id;
}, 180_000);
afterAll(async () => stack?.stop(), 60_000);

describe('caracal agent', () => {
  it('start → child start → tree → suspend → resume → end ends the subtree', async () => {
    const root = await json(['agent', 'start', '--zone', 'agents', '--application', applicationId, '--ttl', '600']);
    expect(root).toMatchObject({ zone_id: zoneId, application_id: applicationId, depth: 0, status: 'active', parent_id: null });
    const child = await json(['agent', 'start', '--zone', zoneId, '--application', applicationId, '--ttl', '300', '--parent', root.id]);
    expect(child).toMatchObject({ parent_id: root.id, depth: 1, status: 'active' });

    const tree = await json(['agent', 'tree', root.id, '--zone', 'agents']);
    expect(tree.items.map((s: any) => [s.id, s.depth])).toEqual([[root.id, 0], [child.id, 1]]);
    expect((await json(['agent', 'heartbeat', root.id, '--zone', 'agents'])).status).toBe('active');
    expect((await json(['agent', 'suspend', root.id, '--zone', 'agents'])).status).toBe('suspended');
    expect((await json(['agent', 'list', '--zone', 'agents', '--status', 'suspended'])).items.map((s: any) => s.id)).toEqual([root.id]);
    expect((await json(['agent', 'resume', root.id, '--zone', 'agents'])).status).toBe('active');
    const ended = await json(['agent', 'end', root.id, '--zone', 'agents']);
    expect(ended).toMatchObject({ id: root.id, status: 'ended', descendants_ended: [child.id] });
    expect((await json(['agent', 'get', child.id, '--zone', 'agents'])).status).toBe('ended');
    expect((await json(['agent', 'list', '--zone', 'agents', '--parent', root.id])).items).toEqual([expect.objectContaining({ id: child.id, status: 'ended' })]);
  });

  it('a retried start with the same --idempotency-key replays the first answer', async () => {
    const args = ['agent', 'start', '--zone', 'agents', '--application', applicationId, '--ttl', '60', '--idempotency-key', 'cli-retry-1'];
    const first = await json(args);
    expect(await json(args)).toEqual(first);
    const r = await stack.cli(['agent', 'start', '--zone', 'agents', '--application', applicationId, '--ttl', '61', '--idempotency-key', 'cli-retry-1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('409 conflict: Idempotency-Key: this key was already used with a different request');
  });

  it('refusals: a bad flag is exit 2 naming it; a refused change is exit 1 naming the reason', async () => {
    const ttl = await stack.cli(['agent', 'start', '--zone', 'agents', '--application', applicationId, '--ttl', '86401']);
    expect(ttl.exitCode).toBe(2);
    expect(ttl.stderr).toContain('--ttl must be an integer from 1 to 86400');
    const id = await stack.cli(['agent', 'get', 'not-a-uuid', '--zone', 'agents']);
    expect(id.exitCode).toBe(2);
    expect(id.stderr).toContain('<session-id> must be a UUID');
    const unknown = await stack.cli(['agent', 'suspend', '00000000-0000-4000-8000-000000000009', '--zone', 'agents']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("404 not_found: agent session '00000000-0000-4000-8000-000000000009' does not exist");
    const s = await json(['agent', 'start', '--zone', 'agents', '--application', applicationId, '--ttl', '60']);
    await json(['agent', 'end', s.id, '--zone', 'agents']);
    const again = await stack.cli(['agent', 'heartbeat', s.id, '--zone', 'agents']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('409 session_ended');
  });
});
