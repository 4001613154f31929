/**
 * The pacing arithmetic (pure), and the acquire script checked against it on a real
 * Redis (the script mirrors pacing.ts; this catches one changing without the other).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { limiterKeys } from '../../src/limiter/index.js';
import {
  batchSize,
  boundaryGuardMs,
  currentCap,
  decreasedCap,
  lengthEstimate,
  MAX_TIMER_MS,
  noteLength,
  pace,
  pauseClampMs,
  pollGoesFirst,
  readOnlyPauseMs,
  relaxLength,
  resumeJitterMs,
  SAME_WINDOW_MS,
  timerDelayMs,
  windowEnds,
} from '../../src/limiter/pacing.js';
import { ACQUIRE_LUA, PAUSE_LUA } from '../../src/limiter/scripts.js';
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

describe('window phase', () => {
  test('the length bracket: lo rises, hi falls, a contradiction moves the other bound one guard beyond, relaxing loosens both', () => {
    const g = 20;
    let b = noteLength({}, 'lo', 1990, g);
    expect(lengthEstimate(b)).toBeUndefined(); // a lower bound alone says nothing safe
    b = noteLength(b, 'hi', 2010, g);
    expect(lengthEstimate(b)).toBe(2000);
    b = noteLength(noteLength(b, 'lo', 1995, g), 'hi', 2020, g);
    expect(b).toEqual({ lo: 1995, hi: 2010 });
    expect(noteLength(b, 'lo', 2015, g)).toEqual({ lo: 2015, hi: 2035 }); // the newest evidence wins
    expect(noteLength(b, 'hi', 1980, g)).toEqual({ lo: 1960, hi: 1980 });
    expect(noteLength(b, 'hi', 0, g)).toBe(b);
    expect(relaxLength(b, g)).toEqual({ lo: 1992.5, hi: 2012.5 });
    expect(lengthEstimate({ hi: 2010 })).toBe(2010);
  });

  test('window ends: the Reset without phase; first + length (+ guard) with it, never after the Reset', () => {
    expect(windowEnds({ phase: false, resetEndMs: 5000, firstMs: 0, lengthMs: 2000, limit: 200 })).toEqual({ probeMs: 5000, endMs: 5000 });
    expect(windowEnds({ phase: true, resetEndMs: 5000, lengthMs: 2000, limit: 200 })).toEqual({ probeMs: 5000, endMs: 5000 });
    expect(boundaryGuardMs(2000, 200)).toBe(20);
    expect(boundaryGuardMs(60_000, 600)).toBe(200);
    expect(windowEnds({ phase: true, resetEndMs: 5000, firstMs: 1000, lengthMs: 2000, limit: 200 })).toEqual({ probeMs: 3000, endMs: 3020 });
    // a request known to be counted late in the window holds the end back
    expect(windowEnds({ phase: true, resetEndMs: 5000, firstMs: 1000, lastMs: 3050, lengthMs: 2000, limit: 200 })).toEqual({ probeMs: 3000, endMs: 3070 });
    // the Reset is never too early: it caps both
    expect(windowEnds({ phase: true, resetEndMs: 2500, firstMs: 1000, lengthMs: 2000, limit: 200 })).toEqual({ probeMs: 2500, endMs: 2500 });
  });

  test('with a probe the window\'s last call waits for it; spent waits for the safe end', () => {
    const w = { endMs: 1520, probeMs: 1500, limit: 200 };
    expect(pace({ nowMs: 0, configuredPerMinute: 100_000, window: { ...w, used: 50 } }).intervalMs).toBeCloseTo(1500 / 149, 6);
    expect(pace({ nowMs: 0, configuredPerMinute: 100_000, window: { ...w, used: 199 } })).toEqual({ intervalMs: 0.6, blockedUntilMs: 1500 });
    expect(pace({ nowMs: 1500, configuredPerMinute: 100_000, window: { ...w, used: 199 } })).toEqual({ intervalMs: 0.6 });
    expect(pace({ nowMs: 0, configuredPerMinute: 100_000, window: { ...w, used: 200 } }).blockedUntilMs).toBe(1520);
  });

  test('pauses and timers: clamp, read-only doubling, safe delays', () => {
    expect(pauseClampMs(undefined)).toBe(62_000);
    expect(pauseClampMs(1800)).toBe(3800);
    expect(pauseClampMs(10 * 60_000)).toBe(300_000);
    expect([1, 2, 3, 4, 5, 6].map(readOnlyPauseMs)).toEqual([30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
    expect(timerDelayMs(10 * 365 * 86_400_000)).toBe(60_000);
    expect(timerDelayMs(Infinity)).toBe(60_000);
    expect(timerDelayMs(NaN)).toBe(60_000);
    expect(timerDelayMs(0.2)).toBe(1);
    expect(timerDelayMs(2 ** 40, Infinity)).toBe(MAX_TIMER_MS);
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

  type Acq = (...a: unknown[]) => Promise<number[]>;
  const acq = (): Acq => (redis as unknown as { acq: Acq }).acq.bind(redis);

  interface ScriptCase {
    endInMs?: number;
    limit?: number;
    used?: number;
    perMinute: number;
    lenMs?: number;
    /** Phase: the window's first request was granted this long ago; bracket lo/hi. */
    firstAgoMs?: number;
    lenLo?: number;
    lenHi?: number;
  }

  /** Sets a window, asks for one token, returns the script's pace in ms, its wait and its window view. */
  async function scriptPace(opts: ScriptCase): Promise<{ intervalMs: number; wait: number; windowLeft: number; endIn: number; granted: number }> {
    const keys = limiterKeys(prefix, 'factors');
    await redis.del(keys.state, keys.held, keys.alive);
    const now = await serverNow();
    const fields: Record<string, string> = {};
    if (opts.endInMs !== undefined) fields.wRst = String(now + opts.endInMs);
    if (opts.limit !== undefined) fields.wLim = String(opts.limit);
    if (opts.used !== undefined) fields.wUsed = String(opts.used);
    if (opts.lenMs !== undefined) fields.wLen = String(opts.lenMs);
    if (opts.firstAgoMs !== undefined) {
      fields.phase = '1';
      fields.wFirst = String(now - opts.firstAgoMs);
      fields.wFSeen = '1';
    }
    if (opts.lenLo !== undefined) fields.lenLo = String(opts.lenLo);
    if (opts.lenHi !== undefined) fields.lenHi = String(opts.lenHi);
    // A pace in the past: the GCRA allows a token now unless the window blocks it.
    fields.tat = String(now - 60_000);
    if (Object.keys(fields).length) await redis.hset(keys.state, fields);
    // want 1 main token so a blocked window reports its wait
    const args = ['proc', 1, 0, 0, opts.perMinute, 20, 0.3, 0, 30_000, 60_000, 50, 64, 2000, 1000, 0, -1, 0, 0];
    const r = await acq()(keys.state, keys.held, keys.alive, ...args);
    return { intervalMs: (r[5] as number) / 1000, wait: r[2] as number, windowLeft: r[7] as number, endIn: r[11] as number, granted: (r[0] as number) + (r[1] as number) };
  }

  /** What pacing.ts says for the same case, times relative to now = 0. */
  function expectedPace(c: ScriptCase): { pace: ReturnType<typeof pace>; ends: ReturnType<typeof windowEnds> } {
    const ends = windowEnds({
      phase: c.firstAgoMs !== undefined,
      resetEndMs: c.endInMs,
      firstMs: c.firstAgoMs === undefined ? undefined : -c.firstAgoMs,
      lengthMs: lengthEstimate({ lo: c.lenLo, hi: c.lenHi }),
      limit: c.limit,
    });
    const window = ends.endMs !== undefined && c.limit !== undefined ? { endMs: ends.endMs, probeMs: ends.probeMs, limit: c.limit, used: c.used ?? 0 } : undefined;
    return { ends, pace: pace({ nowMs: 0, configuredPerMinute: c.perMinute, window, windowLengthMs: c.lenMs, lastLimit: c.limit }) };
  }

  test.each<ScriptCase & { name: string }>([
    { name: 'on track', endInMs: 60_000, limit: 600, used: 0, perMinute: 100_000 },
    { name: 'remaining low', endInMs: 20_000, limit: 600, used: 590, perMinute: 600 },
    { name: 'behind, bounded by config', endInMs: 10_000, limit: 600, used: 0, perMinute: 1200 },
    { name: 'behind, bounded by window', endInMs: 10_000, limit: 600, used: 400, perMinute: 60_000 },
    { name: 'no window', perMinute: 300 },
    { name: 'shape only', limit: 60, lenMs: 2000, perMinute: 3000 },
    { name: 'phase: paced to the probe', endInMs: 2500, limit: 200, used: 50, perMinute: 100_000, firstAgoMs: 500, lenLo: 1990, lenHi: 2010 },
    { name: 'phase: the Reset caps the end', endInMs: 1000, limit: 200, used: 50, perMinute: 100_000, firstAgoMs: 500, lenLo: 1990, lenHi: 2010 },
    { name: 'phase: upper bound alone', endInMs: 2500, limit: 200, used: 10, perMinute: 100_000, firstAgoMs: 100, lenHi: 2050 },
    { name: 'phase: lower bound alone says nothing', endInMs: 2500, limit: 200, used: 10, perMinute: 100_000, firstAgoMs: 100, lenLo: 1990 },
  ])('$name', async (c) => {
    const got = await scriptPace(c);
    const expected = expectedPace(c);
    // The script read its clock a moment after ours: allow a few ms of drift in (end - now) / left.
    expect(got.intervalMs).toBeGreaterThan(expected.pace.intervalMs * 0.99 - 0.01);
    expect(got.intervalMs).toBeLessThanOrEqual(expected.pace.intervalMs * 1.0001 + 0.01);
    if (expected.ends.endMs !== undefined) {
      expect(got.endIn).toBeGreaterThan(expected.ends.endMs - 10);
      expect(got.endIn).toBeLessThanOrEqual(Math.ceil(expected.ends.endMs));
    } else expect(got.endIn).toBe(-1);
  });

  test('phase: the last token waits for the probe, a spent window for the safe end', async () => {
    const c = { endInMs: 2500, limit: 200, perMinute: 100_000, firstAgoMs: 500, lenLo: 1990, lenHi: 2010 };
    const { ends } = expectedPace(c);
    const last = await scriptPace({ ...c, used: 199 });
    expect(last.granted).toBe(0);
    expect(last.wait).toBeGreaterThan((ends.probeMs as number) - 10);
    expect(last.wait).toBeLessThanOrEqual(Math.ceil(ends.probeMs as number));
    const spent = await scriptPace({ ...c, used: 200 });
    expect(spent.granted).toBe(0);
    expect(spent.windowLeft).toBe(0);
    expect(spent.wait).toBeGreaterThan((ends.endMs as number) - 10);
    expect(spent.wait).toBeLessThanOrEqual(Math.ceil(ends.endMs as number));
    // past the probe the last token goes at once
    const due = await scriptPace({ ...c, firstAgoMs: 2005, used: 199 });
    expect(due.granted).toBe(1);
  });

  test('phase: a 429 for a request sent after the assumed rollover brings that window back, spent, until its end as now known', async () => {
    const keys = limiterKeys(prefix, 'factors');
    await redis.del(keys.state, keys.held, keys.alive);
    const now = await serverNow();
    // Window 1000 (opened 2010 ms ago by our request) was assumed over 10 ms ago; a provisional one runs.
    await redis.hset(keys.state, {
      phase: '1', lenLo: '1990', lenHi: '2010', wLim: '200', wUsed: '1', wProv: '1', wFirst: String(now - 10),
      pId: '1000', pFirst: String(now - 2010), pFSeen: '1', pLast: String(now - 30), pEnd: String(now + 900), gc: '400', tat: String(now - 60_000),
    });
    // One answer of window 1000: a 429 (Limit − Remaining = Limit) for a request granted 5 ms ago.
    const obs = [1000, 200, 900, 200, 'x', 200, 5, 5];
    const args = ['proc', 1, 0, 0, 100_000, 20, 0.3, 0, 30_000, 60_000, 50, 64, 2000, 1000, 0, -1, 0, 1, ...obs];
    const r = await acq()(keys.state, keys.held, keys.alive, ...args);
    expect(r[0]).toBe(0); // nothing granted: the window is spent
    expect(r[7]).toBe(0);
    const state = await redis.hgetall(keys.state);
    expect(state.wId).toBe('1000');
    expect(state.wProv).toBe('0');
    // blocked until the last request known in it + the guard (20 ms), not the Reset (900 ms)
    expect(r[2]).toBeGreaterThan(5);
    expect(r[2]).toBeLessThanOrEqual(20);
  });

  test('read-only pauses double per further answer, not per answer of one outage, and a success resets them', async () => {
    redis.defineCommand('pauseCmd', { numberOfKeys: 1, lua: PAUSE_LUA });
    const pauseCmd = (redis as unknown as { pauseCmd: Acq }).pauseCmd.bind(redis);
    const keys = limiterKeys(prefix, 'users');
    await redis.del(keys.state, keys.held, keys.alive);
    /** A read-only answer to a request granted grantAgo ms ago; `later`: the previous pause has run its course. */
    const readOnly = async (grantAgo: number, later = true): Promise<number[]> => {
      if (later) await redis.hset(keys.state, 'pause', '0', 'roAt', '0');
      return pauseCmd(keys.state, 0, 60_000, 2, grantAgo, 30_000, 300_000);
    };
    const got: number[] = [];
    for (let n = 1; n <= 6; n++) {
      const [left, why, streak] = await readOnly(0);
      expect(why).toBe(2);
      expect(streak).toBe(n);
      got.push(left as number);
    }
    const want = [1, 2, 3, 4, 5, 6].map(readOnlyPauseMs);
    got.forEach((ms, i) => {
      expect(ms).toBeGreaterThan((want[i] as number) - 10);
      expect(ms).toBeLessThanOrEqual(want[i] as number);
    });
    // an answer to a request granted before the streak's latest pause began: same outage, nothing changes
    const pauseBefore = await redis.hget(keys.state, 'pause');
    const [, , same] = await readOnly(60_000, false);
    expect(same).toBe(6);
    expect(await redis.hget(keys.state, 'pause')).toBe(pauseBefore);
    // a success granted after the pause ends the streak
    await redis.hset(keys.state, 'pause', '0', 'roAt', '0');
    await acq()(keys.state, keys.held, keys.alive, 'proc', 0, 0, 0, 300, 20, 0.3, 0, 30_000, 60_000, 50, 64, 2000, 1000, 0, 0, 0, 0);
    const [left, , streak] = await readOnly(0);
    expect(streak).toBe(1);
    expect(left).toBeLessThanOrEqual(30_000);
    // a rate-limit pause is clamped to the longest pause
    await redis.hdel(keys.state, 'pause');
    const [clamped, why] = await pauseCmd(keys.state, 10 * 365 * 86_400_000, 60_000, 1, -1, 30_000, 300_000);
    expect(why).toBe(1);
    expect(clamped).toBeLessThanOrEqual(300_000);
  });

  test('budget spent: the script grants nothing and waits for the reset', async () => {
    const got = await scriptPace({ endInMs: 7000, limit: 600, used: 600, perMinute: 600 });
    expect(got.windowLeft).toBe(0);
    expect(got.wait).toBeGreaterThan(6900);
    expect(got.wait).toBeLessThanOrEqual(7000);
  });
});
