/**
 * The pacing arithmetic (pure), and the acquire script checked against it on a real
 * Redis (the script mirrors pacing.ts; this catches one changing without the other).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { limiterKeys } from '../../src/limiter/index.js';
import { batchSize, currentCap, decreasedCap, pace, pollGoesFirst, resumeJitterMs, SAME_WINDOW_MS } from '../../src/limiter/pacing.js';
import { ACQUIRE_LUA } from '../../src/limiter/scripts.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

describe('pace', () => {
  const now = 1_000_000;
  test('on track inside a window: exactly limit / window length (even, no burst at the start)', () => {
    expect(pace({ nowMs: now, configuredPerMinute: 100_000, window: { endMs: now + 60_000, limit: 600, used: 0 } }).intervalMs).toBe(100);
    // half way through with half used: still 100 ms
    expect(pace({ nowMs: now, configuredPerMinute: 100_000, window: { endMs: now + 30_000, limit: 600, used: 300 } }).intervalMs).toBe(100);
  });

  test('Remaining low for the time left: slows down to land on the reset', () => {
    // 10 left, 20 s to go: one every 2 s
    const p = pace({ nowMs: now, configuredPerMinute: 600, window: { endMs: now + 20_000, limit: 600, used: 590 } });
    expect(p.intervalMs).toBe(2000);
    expect(p.blockedUntilMs).toBeUndefined();
  });

  test('behind (Remaining high): speeds up, but never past the configured rate', () => {
    const fast = pace({ nowMs: now, configuredPerMinute: 1200, window: { endMs: now + 10_000, limit: 600, used: 0 } });
    expect(fast.intervalMs).toBe(50); // 1200/min bound; the window alone would allow 16.7 ms
    const bounded = pace({ nowMs: now, configuredPerMinute: 60_000, window: { endMs: now + 10_000, limit: 600, used: 400 } });
    expect(bounded.intervalMs).toBe(50); // 200 left in 10 s
  });

  test('budget spent: blocked until the reset', () => {
    const p = pace({ nowMs: now, configuredPerMinute: 600, window: { endMs: now + 7_000, limit: 600, used: 600 } });
    expect(p.blockedUntilMs).toBe(now + 7_000);
    expect(pace({ nowMs: now, configuredPerMinute: 600, window: { endMs: now + 7_000, limit: 600, used: 650 } }).blockedUntilMs).toBe(now + 7_000);
  });

  test('no window known: configured rate, or the shape of earlier windows when slower', () => {
    expect(pace({ nowMs: now, configuredPerMinute: 300 }).intervalMs).toBe(200);
    expect(pace({ nowMs: now, configuredPerMinute: 3000, windowLengthMs: 2000, lastLimit: 60 }).intervalMs).toBeCloseTo(33.33, 1);
    expect(pace({ nowMs: now, configuredPerMinute: 300, windowLengthMs: 2000, lastLimit: 60 }).intervalMs).toBe(200);
  });

  test('helpers: batch size, tolerance, AIMD, lane choice, jitter', () => {
    expect(batchSize(100, 50, 64)).toBe(1);
    expect(batchSize(0.001, 50, 64)).toBe(64);
    expect(batchSize(5, 50, 64)).toBe(10);
    expect(SAME_WINDOW_MS).toBe(1000);
    expect(decreasedCap(20)).toBe(10);
    expect(decreasedCap(1)).toBe(1);
    expect(currentCap({ atMs: 0 }, 5000, 20, 1000)).toBe(20);
    expect(currentCap({ low: 10, atMs: 0 }, 3500, 20, 1000)).toBe(13);
    expect(currentCap({ low: 10, atMs: 0 }, 60_000, 20, 1000)).toBe(20);
    expect(pollGoesFirst(70, 30, 0.3)).toBe(true); // exactly at share: tie goes to poll
    expect(pollGoesFirst(70, 31, 0.3)).toBe(false);
    expect(pollGoesFirst(0, 0, 0)).toBe(true);
    expect(pollGoesFirst(1, 1, 0)).toBe(false); // no reserve: poll goes first only when it has had nothing
    expect(resumeJitterMs(10_000, () => 1)).toBe(500);
    expect(resumeJitterMs(100, () => 1)).toBe(50);
    expect(resumeJitterMs(10_000, () => 0)).toBe(0);
  });
});

describe('the acquire script follows pace()', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(() => {
    redis = new Redis(redisUrl(), { protocol: 2 });
    redis.defineCommand('acq', { numberOfKeys: 3, lua: ACQUIRE_LUA });
    prefix = uniquePrefix('lim-lua');
  });
  afterAll(async () => {
    await cleanPrefix(redisUrl(), prefix);
    redis.disconnect();
  });

  async function serverNow(): Promise<number> {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  /** Sets a window, asks for nothing, returns the script's pace in ms and its window view. */
  async function scriptPace(opts: { endInMs?: number; limit?: number; used?: number; perMinute: number; lenMs?: number }): Promise<{ intervalMs: number; wait: number; windowLeft: number }> {
    const keys = limiterKeys(prefix, 'factors');
    await redis.del(keys.state, keys.held, keys.alive);
    const now = await serverNow();
    const fields: Record<string, string> = {};
    if (opts.endInMs !== undefined) {
      fields.wEnd = String(now + opts.endInMs);
      fields.oEnd = String(now + opts.endInMs);
      fields.wLim = String(opts.limit);
      fields.wUsed = String(opts.used ?? 0);
    } else if (opts.limit !== undefined) {
      fields.wLim = String(opts.limit);
    }
    if (opts.lenMs !== undefined) fields.wLen = String(opts.lenMs);
    if (Object.keys(fields).length) await redis.hset(keys.state, fields);
    // want 1 main token so a blocked window reports its wait
    const args = ['proc', 1, 0, 0, opts.perMinute, 20, 0.3, -1, 0, 0, 0, 30_000, 60_000, 50, 64, 2000, 1000];
    const r = (await (redis as unknown as { acq: (...a: unknown[]) => Promise<number[]> }).acq(keys.state, keys.held, keys.alive, ...args)) as number[];
    return { intervalMs: (r[5] as number) / 1000, wait: r[2] as number, windowLeft: r[7] as number };
  }

  test.each([
    { name: 'on track', endInMs: 60_000, limit: 600, used: 0, perMinute: 100_000 },
    { name: 'remaining low', endInMs: 20_000, limit: 600, used: 590, perMinute: 600 },
    { name: 'behind, bounded by config', endInMs: 10_000, limit: 600, used: 0, perMinute: 1200 },
    { name: 'behind, bounded by window', endInMs: 10_000, limit: 600, used: 400, perMinute: 60_000 },
    { name: 'no window', perMinute: 300 },
    { name: 'shape only', limit: 60, lenMs: 2000, perMinute: 3000 },
  ])('$name', async (c) => {
    const got = await scriptPace(c);
    const now = 0;
    const expected = pace({
      nowMs: now,
      configuredPerMinute: c.perMinute,
      window: c.endInMs !== undefined ? { endMs: now + c.endInMs, limit: c.limit as number, used: c.used ?? 0 } : undefined,
      windowLengthMs: c.lenMs,
      lastLimit: c.limit,
    });
    // The script read its clock a moment after ours: allow a few ms of drift in (end - now) / left.
    expect(got.intervalMs).toBeGreaterThan(expected.intervalMs * 0.99 - 0.01);
    expect(got.intervalMs).toBeLessThanOrEqual(expected.intervalMs * 1.0001 + 0.01);
  });

  test('budget spent: the script grants nothing and waits for the reset', async () => {
    const got = await scriptPace({ endInMs: 7000, limit: 600, used: 600, perMinute: 600 });
    expect(got.windowLeft).toBe(0);
    expect(got.wait).toBeGreaterThan(6900);
    expect(got.wait).toBeLessThanOrEqual(7000);
  });
});
