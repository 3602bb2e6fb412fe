// The control socket client the upgrade uses by default: one JSON request line, one reply line; a missing socket,
// a silent or garbled supervisor are named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { layout } from '../../src/home/paths.js';
import { supervisorRequest } from '../../src/upgrade/control-client.js';
import { fakeControlSocket, socketPath, type FakeControlSocket } from './fake-control-socket.js';

let dir: string;
let server: FakeControlSocket | undefined;
const home = () => layout(join(dir, 'home'), false);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-control-client-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('supervisorRequest', () => {
  it('writes one request line and resolves with the reply line', async () => {
    server = await fakeControlSocket(home(), () => `${JSON.stringify({ ok: true, pid: 5 })}\n`);
    expect(await supervisorRequest(home(), { type: 'handover', root: '/b', version: '0.2.0' }, 1000)).toEqual({ ok: true, pid: 5 });
    expect(server.seen).toEqual([{ type: 'handover', root: '/b', version: '0.2.0' }]);
  });

  it('names a socket nobody listens on', async () => {
    await expect(supervisorRequest(home(), { type: 'status' }, 1000)).rejects.toThrow(`${socketPath(home())} does not accept connections (ENOENT): the running supervisor has no control socket`);
  });

  it('gives up after the timeout when no reply comes', async () => {
    server = await fakeControlSocket(home(), () => undefined);
    const started = Date.now();
    await expect(supervisorRequest(home(), { type: 'status' }, 300)).rejects.toThrow('no reply from the supervisor within 300 ms (status)');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('names a reply that is not JSON, and a close without a reply', async () => {
    server = await fakeControlSocket(home(), (req) => (req.type === 'status' ? 'garbage\n' : ''));
    await expect(supervisorRequest(home(), { type: 'status' }, 1000)).rejects.toThrow('the supervisor sent an unreadable reply to status');
    await expect(supervisorRequest(home(), { type: 'handover', root: '/b', version: '0.2.0' }, 1000)).rejects.toThrow('without replying to handover');
  });
});
