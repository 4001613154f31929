/**
 * A private redis-server for the demo, tests and the bench: started on a free
 * port in a temporary directory, stopped (and its directory removed) by stop().
 * Tests of Redis that cannot be trusted start it configured the way production
 * sometimes is: an eviction policy, a memory limit, RDB snapshots, a TLS port, or
 * as a Sentinel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface LocalRedisOptions {
  /** Turn on AOF persistence (appendonly yes). */
  appendOnly?: boolean;
  /** appendfsync policy when appendOnly is on. Default everysec. */
  appendFsync?: 'always' | 'everysec' | 'no';
  /** Reuse this port (for restarts). Default: a free one. */
  port?: number;
  /** Reuse this directory (for restarts with persistence). */
  dir?: string;
  /** Path of the redis-server binary. Default: redis-server on PATH. */
  binary?: string;
  /** maxmemory-policy. Default noeviction (what BullMQ requires). */
  maxmemoryPolicy?: string;
  /** maxmemory, e.g. `20mb`. Default: no limit. */
  maxmemory?: string;
  /** RDB save points, e.g. `3600 1`. Default: none. */
  save?: string;
  /** Also listen with TLS (on tlsPort, default a free one) with these PEM files. */
  tls?: { certFile: string; keyFile: string; caFile: string; authClients?: boolean };
  tlsPort?: number;
  /** Run as a Sentinel with this config file (Sentinel rewrites it: it must be writable). */
  sentinelConfig?: string;
  /** requirepass: clients must authenticate (`url` then carries the password). */
  password?: string;
  /** Further command-line settings, e.g. `['--rename-command', 'CONFIG', '']` (as managed services block CONFIG). */
  args?: string[];
}

export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  /** With `tls`: rediss://localhost:<tlsPort>. */
  readonly tlsUrl?: string;
  readonly tlsPort?: number;
  readonly dir: string;
  /** SIGTERM (Redis writes its AOF / shuts down cleanly) and wait for exit. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
  /** SIGKILL: no chance to flush anything. */
  kill(opts?: { keepDir?: boolean }): Promise<void>;
  /** Start again on the same port and directory (after stop/kill with keepDir). */
  restart(): Promise<LocalRedis>;
}

export class RedisServerNotFoundError extends Error {
  constructor() {
    super(
      'redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`, ' +
        'macOS: `brew install redis`) or start one with `docker compose up -d redis`, or set REDIS_URL.',
    );
    this.name = 'RedisServerNotFoundError';
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} while starting`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      const pong = await client.ping();
      if (pong === 'PONG') {
        // AOF rewrite / loading may still be in progress; PING answers LOADING errors then.
        client.disconnect();
        return;
      }
    } catch (err) {
      lastErr = err;
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer PING within ${timeoutMs} ms: ${String(lastErr)}`);
}

export async function startLocalRedis(opts: LocalRedisOptions = {}): Promise<LocalRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'bulk-enroll-redis-')));
  const args = [
    ...(opts.sentinelConfig ? [opts.sentinelConfig, '--sentinel'] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', opts.save ?? '',
    '--appendonly', opts.appendOnly ? 'yes' : 'no',
    '--maxmemory-policy', opts.maxmemoryPolicy ?? 'noeviction',
    '--logfile', join(dir, 'redis.log'),
  ];
  if (opts.appendOnly) args.push('--appendfsync', opts.appendFsync ?? 'everysec');
  if (opts.maxmemory) args.push('--maxmemory', opts.maxmemory);
  if (opts.password) args.push('--requirepass', opts.password);
  if (opts.args) args.push(...opts.args);
  const tlsPort = opts.tls ? (opts.tlsPort ?? (await freePort())) : undefined;
  if (opts.tls) {
    args.push(
      '--tls-port', String(tlsPort),
      '--tls-cert-file', opts.tls.certFile,
      '--tls-key-file', opts.tls.keyFile,
      '--tls-ca-cert-file', opts.tls.caFile,
      '--tls-auth-clients', opts.tls.authClients ? 'yes' : 'no',
    );
  }
  const binary = opts.binary ?? 'redis-server';
  const child = spawn(binary, args, { stdio: 'ignore' });
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!spawned) {
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
    throw new RedisServerNotFoundError();
  }
  const url = `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  try {
    await waitForPing(url, child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }

  const end = async (signal: NodeJS.Signals, keepDir: boolean | undefined) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };

  return {
    url,
    port,
    dir,
    ...(tlsPort !== undefined ? { tlsPort, tlsUrl: `rediss://localhost:${tlsPort}` } : {}),
    stop: (o) => end('SIGTERM', o?.keepDir),
    kill: (o) => end('SIGKILL', o?.keepDir),
    restart: () => startLocalRedis({ ...opts, port, dir, ...(tlsPort !== undefined ? { tlsPort } : {}) }),
  };
}

/** True when a Redis answers PING at url within timeoutMs. */
export async function redisReachable(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
