/**
 * Bottleneck 2.19.5's cluster mode on Redis >= 7: after its keys vanish mid-run, an
 * unfixed limiter fails every call for good (the reproduction); the fixed one
 * (src/limiter/bottleneck-redis.ts) re-creates its state and keeps limiting. Needs Redis.
 */
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { clusterBottleneckId, createClusterBottleneck, normaliseBottleneckError, type ClusterBottleneck } from '../../src/limiter/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const closers: Array<() => Promise<void> | void> = [];
let prefix = '';

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  // Bottleneck's keys are b_<id>_…, and the id starts with the prefix.
  if (prefix) {
    await cleanPrefix(redisUrl(), prefix);
    await cleanPrefix(redisUrl(), `b_${prefix}`);
  }
});

async function redisMajor(r: Redis): Promise<number> {
  const info = await r.info('server');
  return Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
}

async function deleteKeys(r: Redis, id: string): Promise<number> {
  const keys = await r.keys(`b_${id}_*`);
  if (keys.length) await r.del(...keys);
  return keys.length;
}

describe('Bottleneck cluster mode on Redis >= 7', () => {
  test('normaliseBottleneckError strips "ERR " from Bottleneck replies only', () => {
    expect(normaliseBottleneckError(new Error('ERR SETTINGS_KEY_NOT_FOUND')).message).toBe('SETTINGS_KEY_NOT_FOUND');
    expect(normaliseBottleneckError(new Error('ERR UNKNOWN_CLIENT')).message).toBe('UNKNOWN_CLIENT');
    expect(normaliseBottleneckError(new Error('ERR OVERWEIGHT:3:2')).message).toBe('OVERWEIGHT:3:2');
    expect(normaliseBottleneckError(new Error('ERR unknown command')).message).toBe('ERR unknown command');
    expect(normaliseBottleneckError(new Error('SETTINGS_KEY_NOT_FOUND')).message).toBe('SETTINGS_KEY_NOT_FOUND');
  });

  test('the settings are part of the id, so processes configured differently never share', () => {
    const a = clusterBottleneckId('p', 'factors', { maxConcurrent: 2, minTime: 100 });
    expect(clusterBottleneckId('p', 'factors', { minTime: 100, maxConcurrent: 2 })).toBe(a);
    expect(clusterBottleneckId('p', 'factors', { maxConcurrent: 3, minTime: 100 })).not.toBe(a);
    expect(a.startsWith('p:factors:')).toBe(true);
  });

  test('without the fix, deleting the keys breaks every later call (the bug this guards against)', async () => {
    prefix = uniquePrefix('bn-bug');
    const r = new Redis(redisUrl());
    closers.push(() => r.disconnect());
    if ((await redisMajor(r)) < 7) return; // Redis 6 has no "ERR " prefix: nothing to reproduce
    const client = new Redis(redisUrl(), { protocol: 2 });
    const connection = new Bottleneck.IORedisConnection({ client });
    const limiter = new Bottleneck({ id: `${prefix}:unfixed`, datastore: 'ioredis', connection, maxConcurrent: 2, minTime: 10, clearDatastore: false, timeout: 60_000 });
    limiter.on('error', () => undefined);
    closers.push(async () => {
      await limiter.disconnect(false);
      await connection.disconnect(false);
      client.disconnect();
    });
    await limiter.ready();
    expect(await limiter.schedule(async () => 1)).toBe(1);
    expect(await deleteKeys(r, `${prefix}:unfixed`)).toBeGreaterThan(0);
    await expect(limiter.schedule(async () => 2)).rejects.toThrow('ERR SETTINGS_KEY_NOT_FOUND');
    await expect(limiter.schedule(async () => 3)).rejects.toThrow('ERR SETTINGS_KEY_NOT_FOUND');
  });

  test('with the fix it recovers after its keys are deleted mid-run and keeps limiting', async () => {
    prefix = uniquePrefix('bn-fix');
    const r = new Redis(redisUrl());
    closers.push(() => r.disconnect());
    const minTime = 40;
    const bn: ClusterBottleneck = await createClusterBottleneck({ redisUrl: redisUrl(), prefix, name: 'factors', settings: { maxConcurrent: 2, minTime } });
    closers.push(() => bn.close());
    const errors: unknown[] = [];
    bn.limiter.on('error', (e) => errors.push(e));

    const starts: number[] = [];
    let inFlight = 0;
    const inFlightAtStart: Array<[number, number]> = [];
    const job = async (): Promise<void> => {
      starts.push(Date.now());
      inFlight++;
      inFlightAtStart.push([Date.now(), inFlight]);
      await new Promise((res) => setTimeout(res, 60));
      inFlight--;
    };
    const until = Date.now() + 2000;
    let deletedAt = 0;
    const wipe = (async () => {
      await new Promise((res) => setTimeout(res, 700));
      expect(await deleteKeys(r, bn.id)).toBeGreaterThan(0);
      deletedAt = Date.now();
    })();
    const failures: unknown[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (Date.now() < until) await bn.limiter.schedule(job).catch((e: unknown) => failures.push(e));
      }),
    );
    await wipe;
    expect(failures).toEqual([]);
    const after = starts.filter((t) => t > deletedAt);
    expect(after.length).toBeGreaterThanOrEqual(10); // it kept working after the wipe...
    // ...and kept limiting: minTime between starts, counted over 400 ms spans so timer
    // jitter on a busy machine does not matter (400 / 40 = 10 starts, +1 for the edge).
    // Recovery re-runs Bottleneck's init, which forgets when the last job started, so the
    // jobs queued at that moment may start early: spans touching it get a little slack.
    const sorted = [...starts].sort((a, b) => a - b);
    const nearRecovery = (t: number): boolean => t >= deletedAt - 20 && t <= deletedAt + 250;
    for (const t of sorted) {
      const span = sorted.filter((u) => u >= t && u < t + 400);
      const touchesRecovery = span.some(nearRecovery) || nearRecovery(t + 400);
      expect(span.length).toBeLessThanOrEqual(touchesRecovery ? 13 : 11);
    }
    // maxConcurrent holds, except that the running count is part of what was deleted:
    // jobs running at the wipe are not counted by the recovered state until they end.
    for (const [t, n] of inFlightAtStart) expect(n).toBeLessThanOrEqual(nearRecovery(t) ? 4 : 2);
    expect(Math.max(...inFlightAtStart.map(([, n]) => n))).toBeGreaterThanOrEqual(2);
    expect(await r.exists(`b_${bn.id}_settings`)).toBe(1);
  });
});
