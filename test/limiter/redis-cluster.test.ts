/**
 * The limiter on a Redis Cluster connection (the `connection` factory): every script
 * call's keys share one hash slot, with a plain prefix (the `{bucket}` tag) and with a
 * prefix carrying its own `{tag}` (which comes first and wins). Starts its own
 * single-node cluster (redis-server --cluster-enabled yes, all slots on it) on a free
 * port and stops it, pass or fail; a cluster node refuses keys of different slots in
 * one command (CROSSSLOT), which this test checks too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSharedLimiter, DEFAULT_BUDGETS, limiterKeys, type SharedLimiter } from '../../src/limiter/index.js';
import type { Bucket } from '../../src/okta/types.js';

const BUCKETS = Object.keys(DEFAULT_BUDGETS) as Bucket[];

let server: ChildProcess | undefined;
let dir = '';
let port = 0;
let admin: Redis | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`cluster test: ${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'be-limiter-cluster-'));
  port = await freePort();
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined); // refused until redis-server listens
  await until(async () => (await admin!.connect().then(() => admin!.ping())) === 'PONG', 'redis-server start');
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await until(async () => /cluster_state:ok/.test(String(await admin!.call('CLUSTER', 'INFO'))), 'cluster_state:ok');
});

afterAll(async () => {
  admin?.disconnect();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGKILL');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function slotOf(key: string): Promise<number> {
  return Number(await admin!.call('CLUSTER', 'KEYSLOT', key));
}

describe('Redis Cluster', () => {
  test('a cluster node refuses one command over keys of two slots (what the limiter must never do)', async () => {
    expect(await slotOf('a')).not.toBe(await slotOf('b'));
    await expect(admin!.eval('return 1', 2, 'a', 'b')).rejects.toThrow(/CROSSSLOT/);
  });

  test.each([
    { prefix: 'be-cluster', oneSlotForAll: false },
    { prefix: '{be}', oneSlotForAll: true },
  ])('prefix $prefix: each bucket\'s keys share a slot; every script runs on a Cluster connection', async ({ prefix, oneSlotForAll }) => {
    const slots = new Set<number>();
    for (const bucket of BUCKETS) {
      const keys = Object.values(limiterKeys(prefix, bucket));
      const mine = new Set(await Promise.all(keys.map(slotOf)));
      expect(mine.size).toBe(1);
      for (const s of mine) slots.add(s);
    }
    if (oneSlotForAll) expect(slots.size).toBe(1);
    else expect(slots.size).toBeGreaterThan(1);

    let limiter: SharedLimiter | undefined;
    try {
      limiter = await createSharedLimiter({
        connection: () => new Cluster([{ host: '127.0.0.1', port }], { enableAutoPipelining: true, redisOptions: { protocol: 2 } }),
        prefix,
        buckets: { factors: { ratePerMinute: 60_000, maxConcurrent: 5 } },
      });
      const l = limiter;
      const now = Date.now();
      // acquire with observations (two windows), a concurrency 429, a bucket 429 pause, a read-only pause.
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          l.lane(i % 2 ? 'poll' : 'enroll').run('factors', async () => {
            l.observe('factors', { limit: 600, remaining: 590 - i, resetAtMs: Math.ceil(now / 1000) * 1000 + (i < 5 ? 30_000 : 31_000), resetInMs: 30_000 }, 200);
          }),
        ),
      );
      l.observe('factors', { limit: 0, remaining: 0, resetAtMs: now + 1000, resetInMs: 1000 }, 429);
      await l.run('factors', async () => undefined);
      expect(l.stats().buckets.factors?.concurrencyCap).toBe(2);
      await l.run('users', async () => l.observe('users', { limit: 600, remaining: 0, resetAtMs: Date.now() + 1000, resetInMs: 1000 }, 429));
      await until(async () => l.pausedUntil('users') !== null, 'the users pause');
      expect(l.pauseReason('users')).toBe('rate-limit');
      await l.run('groups', async () => l.observe('groups', undefined, 503, 'E0000010'));
      await until(async () => l.pauseReason('groups') === 'read-only', 'the read-only pause');
      await l.pauseUntil('logs', Date.now() + 500);
      expect(l.stats().granted).toBe(13);
      // Everything the limiter wrote is under its prefix, on the slots above.
      const written = (await admin!.keys(`${prefix}*`)) as string[];
      expect(written.length).toBeGreaterThan(0);
      for (const key of written) expect(slots.has(await slotOf(key))).toBe(true);
    } finally {
      await limiter?.close();
      const left = (await admin!.keys(`${prefix}*`)) as string[];
      for (const key of left) await admin!.del(key);
    }
  });

  test('the options say what is missing: a redis URL or a connection factory', async () => {
    await expect(createSharedLimiter({ prefix: 'p', buckets: {} })).rejects.toMatchObject({
      problems: ['limiter redisUrl: expected a redis:// URL (or a connection factory), got `undefined`'],
    });
    await expect(createSharedLimiter({ prefix: 'p', buckets: {}, connection: 'redis://x' as unknown as () => Redis })).rejects.toMatchObject({
      problems: ['limiter connection: expected a function returning an ioredis connection, got `"redis://x"`'],
    });
  });
});
