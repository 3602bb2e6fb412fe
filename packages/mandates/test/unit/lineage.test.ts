// What lineage checks read of a mandate: its top-level records only, and the RFC 8693 `act` built for a chain.
import { describe, expect, it } from 'vitest';
import { lineageIds, nestedActor, type MandateClaims } from '../../src/index.js';

describe('nestedActor', () => {
  it('nests actors given root first with the last one outermost, and is absent for no actor', () => {
    expect(nestedActor(['a', 'b', 'c'])).toEqual({ sub: 'c', act: { sub: 'b', act: { sub: 'a' } } });
    expect(nestedActor(['a'])).toEqual({ sub: 'a' });
    expect(nestedActor([])).toBeUndefined();
  });
});

describe('lineageIds', () => {
  it('names the session, the agent session, the edge and every edge and source session of the chain, once each', () => {
    const c = { sid: 's', agent_session_id: 'x', delegation_edge_id: 'e2', delegation_chain: ['e1', 'e2'], agent_session_chain: ['a', 'b'] };
    expect(lineageIds(c)).toEqual(['s', 'x', 'e2', 'e1', 'a', 'b']);
    expect(lineageIds({ sid: 's' })).toEqual(['s']);
  });

  it('never reads the nested act, and ignores chain entries that are not strings', () => {
    const c = { sid: 's', delegation_chain: ['e1', 7, null], act: { sub: 'actor', act: { sub: 'earlier' } } } as unknown as MandateClaims;
    expect(lineageIds(c)).toEqual(['s', 'e1']);
  });
});
