/**
 * The shared limiter in one process (several limiter instances on one prefix stand for
 * several workers where that is enough). Needs Redis: test/helpers/redis.ts.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createSharedLimiter, LimiterClosedError, limiterKeys, type SharedLimiter, type SharedLimiterOptions } from '../../src/limiter/index.js';
import type { RateLimitInfo } from '../../src/okta/types.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { drive } from './drive.js';
import { startWindowServer, type WindowServer } from './window-server.js';

const limiters: SharedLimiter[] = [];
const servers: WindowServer[] = [];
const redisClients: Redis[] = [];
let prefix = '';

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const r of redisClients.splice(0)) r.disconnect();
  if (prefix) await cleanPrefix(redisUrl(), prefix);
});

async function limiter(opts: Partial<SharedLimiterOptions> = {}): Promise<SharedLimiter> {
  if (!prefix) throw new Error('set prefix first');
  const l = await createSharedLimiter({ redisUrl: redisUrl(), prefix, buckets: {}, ...opts });
  limiters.push(l);
  return l;
}

async function server(opts: Parameters<typeof startWindowServer>[0]): Promise<WindowServer> {
  const s = await startWindowServer(opts);
  servers.push(s);
  return s;
}

function redis(): Redis {
  const r = new Redis(redisUrl());
  redisClients.push(r);
  return r;
}

/** Windows that lay entirely inside the run (the first and last may be partial). */
function fullWindows(s: WindowServer): number[] {
  const ids = [...s.perWindow.keys()].sort((a, b) => a - b);
  return ids.slice(1, -1).map((id) => s.perWindow.get(id) ?? 0);
}

function maxInSlidingWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function info(partial: Partial<RateLimitInfo>): RateLimitInfo {
  const resetInMs = partial.resetInMs ?? 1000;
  return { limit: 60, remaining: 10, resetAtMs: Date.now() + resetInMs, resetInMs, ...partial };
}

describe('rate', () => {
  test('learns a 60-per-2 s window from the headers: never over, at least 90% used, no 429', async () => {
    prefix = uniquePrefix('lim-rate');
    const s = await server({ limit: 60, windowMs: 2000 });
    // The configured rate (3000/min = 100 per 2 s) is only an upper bound: the headers rule.
    const l = await limiter({ buckets: { factors: { ratePerMinute: 3000, maxConcurrent: 20 } } });
    const r = await drive(l, s.url, { loops: 12, durationMs: 6500 });
    const full = fullWindows(s);
    expect(full.length).toBeGreaterThanOrEqual(2);
    for (const n of full) {
      expect(n).toBeLessThanOrEqual(60);
      expect(n).toBeGreaterThanOrEqual(54);
    }
    expect(r.status429).toBe(0);
    // These windows end on their Reset: the phase rules never switch on.
    expect(l.stats().buckets.factors?.phaseRules).toBe(false);
  });

  test('windows that open with their first request (as at Okta): learns their phase and length, no 429, never over', async () => {
    prefix = uniquePrefix('lim-phase');
    // 1.5 s windows: their ends fall on different parts of a second, so Reset (whole
    // seconds, rounded up) is late by up to a second on some of them.
    const s = await server({ limit: 60, windowMs: 1500, windows: 'first-request', latencyMs: 5 });
    const l = await limiter({ buckets: { factors: { ratePerMinute: 6000, maxConcurrent: 20 } } });
    const r = await drive(l, s.url, { loops: 8, durationMs: 6500 });
    expect(r.status429).toBe(0);
    expect(s.rejected.bucket).toBe(0);
    expect(s.opened.length).toBeGreaterThanOrEqual(4);
    const b = l.stats().buckets.factors;
    expect(b?.phaseRules).toBe(true);
    expect(b?.windowLengthMs).toBeGreaterThanOrEqual(1450);
    expect(b?.windowLengthMs).toBeLessThanOrEqual(1560);
  });

  test('without headers it paces evenly at the configured rate', async () => {
    prefix = uniquePrefix('lim-cfg');
    const s = await server({ limit: 1_000_000, windowMs: 60_000, headers: false, latencyMs: 1 });
    const l = await limiter({ buckets: { factors: { ratePerMinute: 1200, maxConcurrent: 20 } } });
    const r = await drive(l, s.url, { loops: 8, durationMs: 3000 });
    // 20/s: any 1 s holds at most 20 plus the one-batch burst allowance (batch = 1 here).
    expect(maxInSlidingWindow(r.grants, 1000)).toBeLessThanOrEqual(22);
    // ...and no stretch of the run is burst then idle: every 500 ms has its ~10.
    const first = Math.min(...r.grants);
    for (let t = first; t + 500 <= first + 2900; t += 500) {
      const inSlice = r.grants.filter((g) => g >= t && g < t + 500).length;
      expect(inSlice).toBeGreaterThanOrEqual(8);
      expect(inSlice).toBeLessThanOrEqual(12);
    }
    expect(r.sent).toBeGreaterThanOrEqual(54);
  });

  test('recovers when its Redis keys vanish mid-run and keeps limiting', async () => {
    prefix = uniquePrefix('lim-wipe');
    const s = await server({ limit: 1_000_000, windowMs: 60_000, headers: false, latencyMs: 1 });
    const l = await limiter({ buckets: { factors: { ratePerMinute: 1200, maxConcurrent: 20 } } });
    const r = redis();
    const wipe = (async () => {
      await sleep(1200);
      const keys = Object.values(limiterKeys(prefix, 'factors'));
      expect(await r.exists(...keys)).toBeGreaterThan(0);
      await r.del(...keys);
    })();
    const result = await drive(l, s.url, { loops: 8, durationMs: 3000 });
    await wipe;
    const after = result.grants.filter((g) => g > Math.min(...result.grants) + 1400);
    expect(after.length).toBeGreaterThanOrEqual(25); // still granting after the wipe
    expect(maxInSlidingWindow(result.grants, 1000)).toBeLessThanOrEqual(23); // still limiting
    expect(await r.exists(limiterKeys(prefix, 'factors').state)).toBe(1); // state re-created
  });
});

describe('concurrency', () => {
  test('the cap holds across limiter instances on one prefix', async () => {
    prefix = uniquePrefix('lim-conc');
    const s = await server({ limit: 1_000_000, windowMs: 60_000, latencyMs: 40 });
    const budget = { factors: { ratePerMinute: 1_000_000, maxConcurrent: 5 } };
    const a = await limiter({ buckets: budget });
    const b = await limiter({ buckets: budget });
    await Promise.all([drive(a, s.url, { loops: 10, durationMs: 1500 }), drive(b, s.url, { loops: 10, durationMs: 1500 })]);
    expect(s.maxInFlight).toBeLessThanOrEqual(5);
    expect(s.maxInFlight).toBeGreaterThanOrEqual(4);
  });

  test('a concurrency 429 halves the cap cluster-wide, without a pause, and it grows back', async () => {
    prefix = uniquePrefix('lim-aimd');
    const s = await server({ limit: 1_000_000, windowMs: 60_000, latencyMs: 60 });
    const budget = { factors: { ratePerMinute: 1_000_000, maxConcurrent: 20 } };
    const a = await limiter({ buckets: budget, capStepMs: 150 });
    const b = await limiter({ buckets: budget, capStepMs: 150 });
    await a.run('factors', async () => undefined);
    a.observe('factors', info({ limit: 0, remaining: 0, resetInMs: 5000 }), 429);
    await a.run('factors', async () => undefined); // carries the signal to Redis
    expect(a.stats().buckets.factors?.concurrencyCap).toBe(10);
    expect(a.stats().rateLimited).toEqual({ bucket: 0, concurrency: 1, resource: 0 });
    expect(a.stats().buckets.factors?.pausedUntil).toBeNull();
    // Instance b (another worker) is held to the lowered cap at once.
    await drive(b, s.url, { loops: 20, durationMs: 300 });
    expect(s.maxInFlight).toBeLessThanOrEqual(11);
    expect(s.maxInFlight).toBeGreaterThanOrEqual(8);
    // +1 per 150 ms: back to 20 within ~1.5 s.
    await sleep(1700);
    await b.run('factors', async () => undefined);
    expect(b.stats().buckets.factors?.concurrencyCap).toBe(20);
  });
});

describe('429s', () => {
  test('a bucket 429 pauses that bucket for another instance until the reset, then resumes', async () => {
    prefix = uniquePrefix('lim-pause');
    const a = await limiter();
    const b = await limiter();
    await Promise.all([a.run('factors', async () => undefined), b.run('users', async () => undefined)]);
    a.observe('factors', info({ limit: 600, remaining: 0, resetInMs: 1500 }), 429);
    expect(a.stats().rateLimited).toEqual({ bucket: 1, concurrency: 0, resource: 0 });
    await sleep(50); // the pause travels through Redis
    const t0 = Date.now();
    await b.run('factors', async () => undefined);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(1300);
    expect(waited).toBeLessThan(2500);
    // Other buckets are not paused.
    const t1 = Date.now();
    await b.run('users', async () => undefined);
    expect(Date.now() - t1).toBeLessThan(300);
  });

  test('pauseUntil stops every instance; a resource 429 is only counted', async () => {
    prefix = uniquePrefix('lim-pause2');
    const a = await limiter();
    const b = await limiter();
    await a.pauseUntil('users', Date.now() + 800);
    const t0 = Date.now();
    await b.run('users', async () => undefined);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(b.stats().buckets.users?.granted).toBe(1);

    a.observe('factors', info({ limit: 600, remaining: 300, resetInMs: 30_000 }), 429);
    expect(a.stats().rateLimited).toEqual({ bucket: 0, concurrency: 0, resource: 1 });
    const t1 = Date.now();
    await b.run('factors', async () => undefined);
    expect(Date.now() - t1).toBeLessThan(300);
  });
});

describe('lanes', () => {
  test('with both lanes saturated the poll lane gets about its share and neither starves', async () => {
    prefix = uniquePrefix('lim-lanes');
    const l = await limiter({ buckets: { factors: { ratePerMinute: 1800, maxConcurrent: 20 } }, pollShare: 0.3 });
    const count = { enroll: 0, poll: 0 };
    const until = Date.now() + 3000;
    const loop = async (lane: 'enroll' | 'poll'): Promise<void> => {
      const gate = l.lane(lane);
      while (Date.now() < until) {
        await gate.run('factors', async () => {
          if (Date.now() < until) count[lane]++;
          await sleep(2);
        });
      }
    };
    await Promise.all([...Array.from({ length: 10 }, () => loop('enroll')), ...Array.from({ length: 10 }, () => loop('poll'))]);
    const total = count.enroll + count.poll;
    expect(total).toBeGreaterThanOrEqual(80); // 30/s for 3 s, shared
    expect(total).toBeLessThanOrEqual(95);
    expect(count.poll / total).toBeGreaterThanOrEqual(0.22);
    expect(count.poll / total).toBeLessThanOrEqual(0.4);
  });

  test('an idle lane leaves its share to the other (work-conserving)', async () => {
    prefix = uniquePrefix('lim-lanes2');
    const l = await limiter({ buckets: { factors: { ratePerMinute: 1800, maxConcurrent: 20 } }, pollShare: 0.3 });
    let n = 0;
    const until = Date.now() + 2000;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (Date.now() < until) await l.lane('enroll').run('factors', async () => void (Date.now() < until && n++));
      }),
    );
    expect(n).toBeGreaterThanOrEqual(54); // ~60 at 30/s: the poll lane's 30% was not held back
  });
});

describe('hot path', () => {
  test('with limits lifted it batches: thousands of calls per second, few Redis round trips', async () => {
    prefix = uniquePrefix('lim-hot');
    const l = await limiter({ buckets: { factors: { ratePerMinute: 1_000_000_000, maxConcurrent: 500 } } });
    const calls = 20_000;
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        while (next < calls) {
          next++;
          await l.lane(next % 3 === 0 ? 'poll' : 'enroll').run('factors', async () => {
            await new Promise<void>((r) => setImmediate(r));
          });
        }
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    const stats = l.stats();
    expect(stats.granted).toBe(calls);
    expect(calls / seconds).toBeGreaterThan(3000);
    expect(stats.roundTrips).toBeLessThan(calls / 5);
  });
});

describe('lifecycle', () => {
  test('options are checked, every problem listed at once', async () => {
    await expect(
      createSharedLimiter({
        redisUrl: redisUrl(),
        prefix: 'has space',
        buckets: { factors: { ratePerMinute: -1, maxConcurrent: 0 } },
        pollShare: 1.5,
      }),
    ).rejects.toSatisfy((err: unknown) => {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).toEqual([
        'limiter prefix: expected a non-empty key prefix without spaces, got `"has space"`',
        'limiter buckets.factors.ratePerMinute: expected a finite number > 0, got `-1`',
        'limiter buckets.factors.maxConcurrent: expected an integer >= 1, got `0`',
        'limiter pollShare: expected a number >= 0 and < 1, got `1.5`',
      ]);
      return true;
    });
  });

  test('close() rejects waiting requests, hands slots back and leaves no timers', async () => {
    prefix = uniquePrefix('lim-close');
    const a = await limiter({ buckets: { factors: { ratePerMinute: 60, maxConcurrent: 1 } } });
    let release!: () => void;
    const held = a.run('factors', () => new Promise<void>((r) => (release = r)));
    await sleep(50);
    const waiting = a.run('factors', async () => 'never');
    await sleep(20);
    await a.pauseUntil('logs', Date.now() + 60_000);
    const closing = a.close();
    await expect(waiting).rejects.toBeInstanceOf(Error);
    await closing;
    release();
    await held;
    await expect(a.run('factors', async () => 1)).rejects.toThrow(/closed/);
    const r = redis();
    expect(await r.hlen(limiterKeys(prefix, 'factors').held)).toBe(0);
    expect(LimiterClosedError).toBeDefined();
  });
});
