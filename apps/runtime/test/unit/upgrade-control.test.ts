// The upgrade's side of the supervisor control socket, over a real Unix socket: typed requests, one JSON line each,
// and the replies mapped to what the upgrade needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { layout } from '../../src/home/paths.js';
import { upgradeControl } from '../../src/upgrade/control.js';
import { fakeControlSocket, type FakeControlSocket } from './fake-control-socket.js';

let dir: string;
let server: FakeControlSocket | undefined;
const home = () => layout(join(dir, 'home'), false);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-control-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('upgradeControl', () => {
  it('sends typed requests and maps the replies', async () => {
    server = await fakeControlSocket(home(), (req) => {
      if (req.type === 'status') return `${JSON.stringify({ ok: true, state: { pid: 7, root: '/a', version: '0.1.0', services: { api: { root: '/a', version: '0.1.0' } } } })}\n`;
      if (req.type === 'roll' && req.service === 'api') return `${JSON.stringify({ ok: true, service: 'api', from: { version: '0.1.0' }, to: { version: '0.2.0' }, ms: 812 })}\n`;
      if (req.type === 'roll') return `${JSON.stringify({ ok: false, service: req.service, error: 'not_ready', detail: 'no ready message within 5000 ms' })}\n`;
      return `${JSON.stringify({ ok: true, pid: 99 })}\n`;
    });
    const control = upgradeControl(home());
    expect((await control.status()).services.api).toEqual({ root: '/a', version: '0.1.0' });
    expect(await control.roll('api', '/b', '0.2.0', 5000)).toEqual({ ok: true, ms: 812 });
    expect(await control.roll('sts', '/b', '0.2.0', 5000)).toEqual({ ok: false, error: 'not_ready', detail: 'no ready message within 5000 ms' });
    expect(await control.handover('/b', '0.2.0')).toEqual({ pid: 99 });
    expect(server.seen).toEqual([
      { type: 'status' },
      { type: 'roll', service: 'api', root: '/b', version: '0.2.0', readyTimeoutMs: 5000 },
      { type: 'roll', service: 'sts', root: '/b', version: '0.2.0', readyTimeoutMs: 5000 },
      { type: 'handover', root: '/b', version: '0.2.0' },
    ]);
  });

  it('an unchanged roll, a refused handover, a status that is not one', async () => {
    server = await fakeControlSocket(home(), (req) =>
      req.type === 'roll'
        ? `${JSON.stringify({ ok: true, service: 'api', unchanged: true, version: '0.2.0' })}\n`
        : req.type === 'status'
          ? `${JSON.stringify({ ok: false, error: 'stopping', detail: 'the supervisor is stopping' })}\n`
          : `${JSON.stringify({ ok: false, error: 'busy', detail: 'gateway is still starting' })}\n`,
    );
    const control = upgradeControl(home());
    expect(await control.roll('api', '/b', '0.2.0', 5000)).toEqual({ ok: true, unchanged: true });
    await expect(control.handover('/b', '0.2.0')).rejects.toThrow('the supervisor did not hand over to /b: busy: gateway is still starting');
    await expect(control.status()).rejects.toThrow('the supervisor did not report its state: stopping: the supervisor is stopping');
  });
});
