// The upgrade's side of the supervisor control socket: one JSON request line, one reply line, over a real Unix
// socket; replies mapped to what the upgrade needs; a missing socket, a silent or garbled supervisor are named.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { layout } from '../../src/home/paths.js';
import { controlSocket, supervisorRequest, upgradeControl } from '../../src/upgrade/control.js';

let dir: string;
let server: net.Server | undefined;
const home = () => layout(join(dir, 'home'), false);
const seen: unknown[] = [];

/** A stand-in supervisor: answers each request line with `reply(request)`, or not at all when it returns undefined. */
async function serve(reply: (req: Record<string, unknown>) => string | undefined): Promise<void> {
  mkdirSync(home().dataDir, { recursive: true });
  server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      seen.push(req);
      const out = reply(req);
      if (out !== undefined) socket.end(out);
    });
  });
  await new Promise<void>((r) => server!.listen(controlSocket(home()), r));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-control-'));
  seen.length = 0;
});
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('upgradeControl', () => {
  it('sends typed requests and maps the replies', async () => {
    await serve((req) => {
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
    expect(seen).toEqual([
      { type: 'status' },
      { type: 'roll', service: 'api', root: '/b', version: '0.2.0', readyTimeoutMs: 5000 },
      { type: 'roll', service: 'sts', root: '/b', version: '0.2.0', readyTimeoutMs: 5000 },
      { type: 'handover', root: '/b', version: '0.2.0' },
    ]);
  });

  it('an unchanged roll, a refused handover', async () => {
    await serve((req) => (req.type === 'roll' ? `${JSON.stringify({ ok: true, service: 'api', unchanged: true, version: '0.2.0' })}\n` : `${JSON.stringify({ ok: false, error: 'busy', detail: 'gateway is still starting' })}\n`));
    const control = upgradeControl(home());
    expect(await control.roll('api', '/b', '0.2.0', 5000)).toEqual({ ok: true, unchanged: true });
    await expect(control.handover('/b', '0.2.0')).rejects.toThrow('the supervisor did not hand over to /b: busy: gateway is still starting');
  });
});

describe('supervisorRequest (the client upgradeControl uses by default)', () => {
  it('names a socket nobody listens on', async () => {
    await expect(supervisorRequest(home(), { type: 'status' }, 1000)).rejects.toThrow(`${controlSocket(home())} does not accept connections (ENOENT): the running supervisor has no control socket`);
  });

  it('gives up after the timeout when no reply comes', async () => {
    await serve(() => undefined);
    const started = Date.now();
    await expect(supervisorRequest(home(), { type: 'status' }, 300)).rejects.toThrow('no reply from the supervisor within 300 ms (status)');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('names a reply that is not JSON, and a close without a reply', async () => {
    await serve((req) => (req.type === 'status' ? 'garbage\n' : ''));
    await expect(supervisorRequest(home(), { type: 'status' }, 1000)).rejects.toThrow('the supervisor sent an unreadable reply to status');
    await expect(supervisorRequest(home(), { type: 'handover', root: '/b', version: '0.2.0' }, 1000)).rejects.toThrow('without replying to handover');
  });
});
