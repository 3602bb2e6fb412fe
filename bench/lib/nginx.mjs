// bench/lib/nginx: a plain nginx reverse proxy (keepalive to the upstream) on a free port, as a child process with a generated config in a temp dir; installs the Debian package if it is missing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { freePort, onCleanup, sleep } from './stack.mjs';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
const findNginx = () => CANDIDATES.find((p) => existsSync(p));

/** The nginx binary, installing the Debian package first when it is missing and we are root. */
function ensureNginx() {
  const found = findNginx();
  if (found) return { bin: found, installed_now: false };
  if (process.getuid?.() !== 0) throw new Error('nginx is not installed and this is not root: run `apt-get install -y nginx` first');
  const apt = (args) => execFileSync('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'ignore', 'inherit'] });
  console.error('nginx is missing: apt-get install -y nginx');
  try {
    apt(['install', '-y', '--no-install-recommends', 'nginx']);
  } catch {
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', 'nginx']);
  }
  const bin = findNginx();
  if (!bin) throw new Error('apt-get installed nginx but no nginx binary was found');
  return { bin, installed_now: true };
}

// `nginx -v` prints its version on stderr
const version = (bin) => spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');

const listening = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** nginx proxying every path to `upstreamPort` over HTTP/1.1 keepalive; stopped at cleanup. */
export async function startNginx(upstreamPort) {
  const { bin, installed_now } = ensureNginx();
  const dir = mkdtempSync(join(tmpdir(), 'caracal-bench-nginx-'));
  const removeDir = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn(bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM'); // nginx: fast shutdown of master and workers
      await once(child, 'exit');
    }
    await removeDir();
  });
  for (let i = 0; !(await listening(port)); i++) {
    if (child.exitCode !== null || i > 100) throw new Error(`nginx did not start (see ${dir}/error.log)`);
    await sleep(50);
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop, installed_now, version: version(bin) };
}
