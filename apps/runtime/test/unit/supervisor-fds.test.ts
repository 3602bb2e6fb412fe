// How the held sockets reach the supervisor and its workers: the fd list is parsed strictly (every service once,
// each an open socket), and a worker's stdio leaves it no other service's socket.
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFds, parseFds, successorStdio, workerStdio, type ServiceFds } from '../../src/supervisor/fds.js';

describe('supervisor fds', () => {
  const fds: ServiceFds = { api: 3, coordinator: 4, sts: 5, gateway: 6, audit: 7 };
  let server: net.Server;
  let socketFd: number;

  beforeAll(async () => {
    server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    socketFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  });
  afterAll(() => server.close());

  it('a worker gets IPC on 3, its own socket on 4, and its own socket again on every other inherited index', () => {
    expect(workerStdio(fds, 'api', 9)).toEqual(['ignore', 9, 9, 'ipc', 3, 3, 3, 3]);
    expect(workerStdio(fds, 'gateway', 9)).toEqual(['ignore', 9, 9, 'ipc', 6, 6, 6, 6]);
  });

  it('a successor gets every socket on the same fd and IPC after them', () => {
    expect(successorStdio(fds)).toEqual(['ignore', 1, 2, 3, 4, 5, 6, 7, 'ipc']);
    expect(formatFds(fds)).toBe('api:3,coordinator:4,sts:5,gateway:6,audit:7');
  });

  it('parses only a complete list of open sockets', () => {
    const all = `api:${socketFd},coordinator:${socketFd},sts:${socketFd},gateway:${socketFd},audit:${socketFd}`;
    expect(parseFds(all)).toEqual({ api: socketFd, coordinator: socketFd, sts: socketFd, gateway: socketFd, audit: socketFd });
    expect(() => parseFds(undefined)).toThrow('CARACAL_SUPERVISOR_FDS is not set');
    expect(() => parseFds(all.replace(/,audit:\d+/, ''))).toThrow('no fd for audit');
    expect(() => parseFds(`${all},api:${socketFd}`)).toThrow('bad entry "api:');
    expect(() => parseFds(all.replace('sts:', 'web:'))).toThrow('bad entry "web:');
    const file = openSync(import.meta.filename, 'r');
    try {
      expect(() => parseFds(all.replace(`gateway:${socketFd}`, `gateway:${file}`))).toThrow(`fd ${file} (gateway) is not an open socket`);
    } finally {
      closeSync(file);
    }
    expect(() => parseFds(all.replace(`audit:${socketFd}`, 'audit:999'))).toThrow('fd 999 (audit) is not an open socket');
  });
});
