/**
 * The RequestGate contract as the jobs rely on it: a request dropped while it waits takes
 * nothing, Okta's read-only mode pauses the bucket cluster-wide and says why and until
 * when, an absurd X-Rate-Limit-Reset neither pauses for years nor overflows a timer, and
 * long waits are counted. Needs Redis: test/helpers/redis.ts.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test, vi } from 'vitest';
import winston from 'winston';
import { createSharedLimiter, limiterKeys, slowMessage, type SharedLimiter, type SharedLimiterOptions } from '../../src/limiter/index.js';
import { parseRateLimit } from '../../src/okta/rate-limit-headers.js';
import { request } from 'undici';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { startWindowServer, type WindowServer } from './window-server.js';

const limiters: SharedLimiter[] = [];
const servers: WindowServer[] = [];
const redisClients: Redis[] = [];
let prefix = '';

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(limiters.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const r of redisClients.splice(0)) r.disconnect();
  if (prefix) await cleanPrefix(redisUrl(), prefix);
});

async function limiter(opts: Partial<SharedLimiterOptions> = {}): Promise<SharedLimiter> {
  const l = await createSharedLimiter({ redisUrl: redisUrl(), prefix, buckets: {}, ...opts });
  limiters.push(l);
  return l;
}

function redis(): Redis {
  const r = new Redis(redisUrl());
  redisClients.push(r);
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until check() holds (a pause travels through Redis; a busy machine takes its time). */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await sleep(10);
}

/** A request that holds its permit until released. */
function hold(l: SharedLimiter, bucket: 'factors' | 'users' = 'factors'): { release: () => void; done: Promise<void>; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const done = l.run(bucket, () => {
    started();
    return new Promise<void>((r) => (release = r));
  });
  return { release: () => release(), done, started: startedP };
}

function capturingLogger(): { logger: winston.Logger; lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as { level: string; message: string });
      cb();
    },
  });
  return { logger: winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] }), lines };
}

describe('a request dropped while it waits', () => {
  test.each([
    { name: 'in the local queue', ratePerMinute: 600 },
    { name: 'in the permit queue (limits lifted)', ratePerMinute: 1_000_000 },
  ])('$name: rejects with the signal\'s reason at once, takes no permit, leaks no slot', async ({ ratePerMinute }) => {
    prefix = uniquePrefix('lim-abort');
    const l = await limiter({ buckets: { factors: { ratePerMinute, maxConcurrent: 1 } } });
    const first = hold(l);
    await first.started;
    const ac = new AbortController();
    let ran = false;
    const waiting = l.run('factors', async () => void (ran = true), { signal: ac.signal });
    await sleep(50);
    const reason = new Error('the job lost its lock');
    const t0 = Date.now();
    ac.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(Date.now() - t0).toBeLessThan(200);
    // The next request gets the slot as soon as the first one gives it back.
    const third = l.run('factors', async () => 'third');
    first.release();
    await first.done;
    expect(await third).toBe('third');
    expect(ran).toBe(false);
    const s = l.stats();
    expect(s.granted).toBe(2);
    expect(s.buckets.factors?.waiting).toBe(0);
    expect(s.buckets.factors?.inFlight).toBe(0);
    const r = redis();
    const keys = limiterKeys(prefix, 'factors');
    expect(Number(await r.hget(keys.state, 'gc'))).toBe(2); // two permits granted cluster-wide, not three
    await sleep(50); // the release reaches Redis with the next round trip
    expect(await r.hlen(keys.held)).toBe(0);
  });

  test('an aborted signal is refused before anything is queued; an abort after the permit leaves the request alone', async () => {
    prefix = uniquePrefix('lim-abort2');
    const l = await limiter();
    const reason = new Error('already gone');
    await expect(l.run('users', async () => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(l.stats().granted).toBe(0);
    const ac = new AbortController();
    const inFlight = l.lane('enroll').run(
      'users',
      async () => {
        ac.abort(new Error('too late'));
        await sleep(20);
        return 'answered';
      },
      { signal: ac.signal },
    );
    expect(await inFlight).toBe('answered');
  });
});

describe("Okta's read-only mode (503 E0000010)", () => {
  test('pauses the bucket for every instance: 30 s, doubling per further answer, not per answer of one outage, back to 30 s after a success', async () => {
    prefix = uniquePrefix('lim-ro');
    const a = await limiter();
    const b = await limiter();
    const r = redis();
    const state = limiterKeys(prefix, 'factors').state;
    const endPauseNow = async (): Promise<void> => void (await r.hset(state, 'pause', '0', 'tat', '0', 'roAt', '0'));
    /** The pause left, once it is at least `least` ms (a pause travels through Redis). */
    const until = async (l: SharedLimiter, least = 1): Promise<number> => {
      await eventually(() => (l.pausedUntil('factors') ?? 0) - Date.now() >= least);
      return (l.pausedUntil('factors') ?? 0) - Date.now();
    };
    // A request in flight when Okta goes read-only; it answers 503 too, later.
    let answer!: () => void;
    const answered = new Promise<void>((res) => (answer = res));
    let started!: () => void;
    const startedP = new Promise<void>((res) => (started = res));
    const inFlight = a.run('factors', async () => {
      started();
      await answered;
      a.observe('factors', undefined, 503, 'E0000010');
    });
    await startedP;
    await sleep(20); // the first 503 comes back a round trip after any request in flight was sent
    a.observe('factors', undefined, 503, 'E0000010');
    expect(await until(a)).toBeGreaterThan(29_000);
    expect(await until(a)).toBeLessThanOrEqual(30_000);
    expect(a.pauseReason('factors')).toBe('read-only');
    // Other instances hold their requests and learn why, from Redis.
    const ac = new AbortController();
    let ran = false;
    const held = b.run('factors', async () => void (ran = true), { signal: ac.signal });
    await sleep(100);
    expect(ran).toBe(false);
    expect(b.pauseReason('factors')).toBe('read-only');
    expect((b.pausedUntil('factors') ?? 0) - Date.now()).toBeGreaterThan(29_000);
    ac.abort(new Error('parked until the pause ends'));
    await expect(held).rejects.toThrow('parked');
    // Other buckets go on.
    expect(await b.run('users', async () => 'users ok')).toBe('users ok');
    // The in-flight request's own 503 is the same outage: it changes nothing.
    const before = a.pausedUntil('factors');
    answer();
    await inFlight;
    expect(a.stats().readOnly).toBe(2);
    await sleep(100);
    expect(Math.abs((a.pausedUntil('factors') ?? 0) - (before ?? 0))).toBeLessThanOrEqual(5); // (re-derived on this clock)
    // A further read-only answer, after the pause: 60 s.
    await endPauseNow(); // (as if the first pause had run its course)
    a.observe('factors', undefined, 503, 'E0000010');
    expect(await until(a, 31_000)).toBeGreaterThan(59_000);
    // A success from a request sent after the pause began ends the streak (a fresh
    // instance: the others wait on their pause timers, which this test cut short).
    await endPauseNow();
    const c = await limiter();
    await c.run('factors', async () => c.observe('factors', { limit: 600, remaining: 500, resetAtMs: Date.now() + 30_000, resetInMs: 30_000 }, 200));
    await c.run('factors', async () => undefined); // carries the success to Redis
    const previous = a.pausedUntil('factors');
    a.observe('factors', undefined, 503, 'E0000010');
    await eventually(() => a.pausedUntil('factors') !== previous);
    const left = (a.pausedUntil('factors') ?? 0) - Date.now();
    expect(left).toBeGreaterThan(29_000);
    expect(left).toBeLessThanOrEqual(30_000);
  });

  test('an answer to a request granted before the pause began does not double it', async () => {
    prefix = uniquePrefix('lim-ro2');
    const a = await limiter({ buckets: { users: { ratePerMinute: 60_000, maxConcurrent: 5 } } });
    // Five requests in flight when Okta goes read-only: all five answer 503.
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    const inFlight = Array.from({ length: 5 }, () =>
      a.run('users', async () => {
        await gate;
        a.observe('users', undefined, 503, 'E0000010');
      }),
    );
    await sleep(100);
    go();
    await Promise.all(inFlight);
    await sleep(50);
    const left = (a.pausedUntil('users') ?? 0) - Date.now();
    expect(left).toBeGreaterThan(29_000);
    expect(left).toBeLessThanOrEqual(30_000);
    expect(a.stats().readOnly).toBe(5);
  });
});

describe('an absurd X-Rate-Limit-Reset', () => {
  test('a 429 whose reset is ten years ahead pauses within the clamp, overflows no timer, and is said once', async () => {
    prefix = uniquePrefix('lim-absurd');
    const tenYears = Math.ceil(Date.now() / 1000) + 10 * 365 * 86_400;
    const s = await startWindowServer({ limit: 1000, windowMs: 1000, absurd429: { atRequest: 5, resetSec: tenYears } });
    servers.push(s);
    const { logger, lines } = capturingLogger();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const l = await limiter({ buckets: { factors: { ratePerMinute: 60_000, maxConcurrent: 5 } }, logger });
      let rateLimitedAt = 0;
      let resumedAt = 0;
      let pausedFor = 0;
      for (let i = 0; i < 12; i++) {
        await l.run('factors', async () => {
          const res = await request(s.url);
          await res.body.dump();
          const info = parseRateLimit(res.headers);
          l.observe('factors', info, res.statusCode, res.statusCode === 429 ? 'E0000047' : undefined);
          if (res.statusCode === 429) rateLimitedAt = Date.now();
          else if (rateLimitedAt && !resumedAt) resumedAt = Date.now();
        });
        if (rateLimitedAt && !pausedFor) {
          await eventually(() => l.pausedUntil('factors') !== null);
          pausedFor = (l.pausedUntil('factors') ?? Date.now()) - Date.now();
        }
      }
      expect(s.rejected.bucket).toBe(1);
      // Clamped to the longest reset the bucket showed (1 s windows: under 2 s) plus the rounding.
      expect(pausedFor).toBeGreaterThan(0);
      expect(pausedFor).toBeLessThanOrEqual(4000);
      expect(resumedAt - rateLimitedAt).toBeLessThanOrEqual(4600);
      expect(resumedAt).toBeGreaterThan(0);
      expect(l.pausedUntil('factors')).toBeNull();
      // A second absurd header is not said again.
      l.observe('factors', { limit: 1000, remaining: 0, resetAtMs: tenYears * 1000, resetInMs: tenYears * 1000 - Date.now() }, 429);
      await sleep(30);
      expect((l.pausedUntil('factors') ?? 0) - Date.now()).toBeLessThanOrEqual(4000);
      const said = lines.filter((x) => /X-Rate-Limit-Reset/.test(x.message));
      expect(said).toHaveLength(1);
      expect(said[0]?.level).toBe('warn');
      expect(said[0]?.message).toMatch(/factors bucket is \d+ days away/);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });

  test('an answer (not a 429) with Remaining 0 and an absurd reset does not block the bucket', async () => {
    prefix = uniquePrefix('lim-absurd2');
    const l = await limiter({ buckets: { users: { ratePerMinute: 60_000, maxConcurrent: 5 } } });
    const far = Date.now() + 10 * 365 * 86_400_000;
    await l.run('users', async () => l.observe('users', { limit: 600, remaining: 0, resetAtMs: far, resetInMs: far - Date.now() }, 200));
    const t0 = Date.now();
    await l.run('users', async () => undefined);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(l.pausedUntil('users')).toBeNull();
  });
});

describe('long waits', () => {
  test('requests waiting for a permit and in flight for more than 10 s are counted, per bucket and in all', async () => {
    prefix = uniquePrefix('lim-slow');
    const l = await limiter({ buckets: { factors: { ratePerMinute: 600, maxConcurrent: 1 } } });
    const first = hold(l);
    await first.started;
    const ac = new AbortController();
    const waiting = l.run('factors', async () => undefined, { signal: ac.signal });
    waiting.catch(() => undefined);
    expect(l.stats().slow).toEqual({ waitingOver10s: 0, inFlightOver10s: 0 });
    expect(slowMessage(l.stats().slow)).toBeUndefined();
    // Eleven seconds later (only Date moves: timers and Redis run as usual).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 11_000);
    const s = l.stats();
    expect(s.slow).toEqual({ waitingOver10s: 1, inFlightOver10s: 1 });
    expect(s.buckets.factors?.slow).toEqual({ waitingOver10s: 1, inFlightOver10s: 1 });
    expect(slowMessage(s.slow)).toBe('Okta answers slowly: 1 request waiting more than 10 s for the rate limit, 1 request in flight for more than 10 s');
    expect(slowMessage({ waitingOver10s: 12, inFlightOver10s: 0 })).toBe('Okta answers slowly: 12 requests waiting more than 10 s for the rate limit');
    vi.useRealTimers();
    ac.abort(new Error('dropped'));
    await expect(waiting).rejects.toThrow('dropped');
    first.release();
    await first.done;
    expect(l.stats().slow).toEqual({ waitingOver10s: 0, inFlightOver10s: 0 });
  });
});
