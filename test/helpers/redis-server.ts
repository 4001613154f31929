/**
 * redis-servers configured for one test (an eviction policy, a memory limit, a TLS
 * port, a Sentinel…), each on a free port in its own folder, through
 * src/redis/local-redis.ts. useRedisServers() stops every server a test started, and
 * removes the folders it made (TLS files from openssl, Sentinel configs), in afterEach,
 * pass or fail.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startLocalRedis, type LocalRedis, type LocalRedisOptions } from '../../src/redis/local-redis.js';

export interface TlsFiles {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface RedisServers {
  start(opts?: LocalRedisOptions): Promise<LocalRedis>;
  /** A Sentinel on loopback monitoring `master` under `name` (with the master's password, and one of its own). */
  sentinel(master: LocalRedis, name: string, auth?: { masterPassword?: string; password?: string }): Promise<LocalRedis>;
  /** A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, all signed by the CA. */
  tlsFiles(): TlsFiles;
}

export function useRedisServers(): RedisServers {
  const running = new Set<LocalRedis>();
  const folders: string[] = [];
  afterEach(async () => {
    await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
    running.clear();
    for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const folder = (label: string) => {
    const dir = mkdtempSync(join(tmpdir(), `be-${label}-`));
    folders.push(dir);
    return dir;
  };
  // Stopped, killed and restarted servers stay tracked, so afterEach stops whatever is left.
  const track = (server: LocalRedis): LocalRedis => {
    running.add(server);
    return {
      ...server,
      stop: async (o) => {
        running.delete(server);
        await server.stop(o);
      },
      kill: async (o) => {
        running.delete(server);
        await server.kill(o);
      },
      restart: async () => track(await server.restart()),
    };
  };
  const start = async (opts: LocalRedisOptions = {}) => track(await startLocalRedis(opts));
  return {
    start,
    async sentinel(master, name, auth = {}) {
      const conf = join(folder('sentinel'), 'sentinel.conf');
      const lines = [`sentinel monitor ${name} 127.0.0.1 ${master.port} 1`, `sentinel down-after-milliseconds ${name} 1000`];
      if (auth.masterPassword) lines.push(`sentinel auth-pass ${name} ${auth.masterPassword}`);
      writeFileSync(conf, `${lines.join('\n')}\n`);
      return start({ sentinelConfig: conf, ...(auth.password ? { password: auth.password } : {}) });
    },
    tlsFiles() {
      const dir = folder('tls');
      const f = (n: string) => join(dir, n);
      const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
      // EC P-256 keys: quick to make (RSA keys take seconds on a busy machine).
      const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      ssl('req', '-x509', ...key, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=bulk-enroll test CA');
      writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
      for (const who of ['server', 'client']) {
        ssl('req', ...key, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who === 'server' ? 'localhost' : 'bulk-enroll'}`);
        ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.crt`), '-days', '2', ...(who === 'server' ? ['-extfile', f('server.ext')] : []));
        chmodSync(f(`${who}.key`), 0o600);
      }
      return { dir, ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
    },
  };
}
