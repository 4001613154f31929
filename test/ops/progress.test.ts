/**
 * Progress output: the cli-progress bar on a terminal (forced with `tty`, and for real
 * through `script`, a pseudo-terminal), steady plain lines elsewhere; calls/s against
 * the budget, 429s and ETA; the call counters workers publish to Redis
 * (test/helpers/redis.ts) for `status --watch`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CallRate, countersOf, createProgress, formatDuration, publishCallStats, RateMeter, readCallStats } from '../../src/progress.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { ROOT } from '../helpers/cli.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b(\[[0-9;?]*[A-Za-z]|[78])/g;

function fakeStream(isTTY: boolean) {
  let text = '';
  const writes: string[] = [];
  const stream = {
    isTTY,
    columns: 200,
    rows: 40,
    write(s: string) {
      text += s;
      writes.push(s);
      return true;
    },
    on() {
      return stream;
    },
    removeListener() {
      return stream;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text, writes };
}

const state = (done: number, extra: Record<string, number> = {}) => ({ done, total: 10, activated: done - 1 > 0 ? done - 1 : 0, expired: 0, failed: done > 0 ? 1 : 0, ...extra });

describe('plain lines (not a terminal)', () => {
  it('prints one line per interval when something changed, the last state on stop, no escape codes', () => {
    let t = 0;
    const out = fakeStream(false);
    const p = createProgress({ label: 'run R1', intervalMs: 1000, stream: out.stream, now: () => t });
    p.update(state(1, { callsPerSec: 4.25, budgetPerSec: 5, rateLimited: 0 }));
    t = 500;
    p.update(state(2, { callsPerSec: 4.25, budgetPerSec: 5, rateLimited: 0 })); // within the interval: held
    t = 1000;
    p.update(state(2, { callsPerSec: 4.25, budgetPerSec: 5, rateLimited: 0 }));
    t = 2500;
    p.update(state(2, { callsPerSec: 4.25, budgetPerSec: 5, rateLimited: 0 })); // unchanged: nothing
    t = 3000;
    p.update(state(6, { callsPerSec: 3, budgetPerSec: 5, rateLimited: 2 }));
    t = 3100;
    p.update(state(7, { callsPerSec: 3, budgetPerSec: 5, rateLimited: 2 })); // held, printed on stop
    p.stop();
    const lines = out.text().split('\n').filter(Boolean);
    expect(out.text()).not.toMatch(ANSI);
    expect(out.writes.every((w) => w.endsWith('\n') && w.indexOf('\n') === w.length - 1)).toBe(true);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('[0s] run R1: 1/10 done (activated 0, expired 0, failed 1) | 4.3/5.0 calls/s, 429s 0 | ETA ?');
    expect(lines[1]).toMatch(/^\[1s\] run R1: 2\/10 done .* \| ETA 8s$/); // 1 row per second so far, 8 rows left
    expect(lines[2]).toMatch(/^\[3s\] run R1: 6\/10 done \(activated 5, expired 0, failed 1\) \| 3\.0\/5\.0 calls\/s, 429s 2 \| ETA \d+s$/);
    expect(lines[3]).toMatch(/^\[3s\] run R1: 7\/10 done/);
  });

  it('shows an unknown total as ? and no ETA until it is known', () => {
    let t = 0;
    const out = fakeStream(false);
    const p = createProgress({ label: 'run G', intervalMs: 0, stream: out.stream, now: () => t });
    p.update({ done: 3, activated: 3, expired: 0, failed: 0 });
    t = 1000;
    p.update({ done: 5, activated: 5, expired: 0, failed: 0 });
    expect(out.text()).toContain('run G: 3/? done');
    expect(out.text()).toContain('run G: 5/? done (activated 5, expired 0, failed 0) | ETA ?');
  });
});

describe('bar (terminal)', () => {
  it('draws the bar with counts, calls/s against the budget, 429s and ETA', () => {
    let t = 0;
    const out = fakeStream(true);
    const p = createProgress({ label: 'run R2', tty: true, stream: out.stream, now: () => t });
    p.update(state(2, { callsPerSec: 7.5, budgetPerSec: 10, rateLimited: 3 }));
    t = 2000;
    p.update(state(6, { callsPerSec: 7.5, budgetPerSec: 10, rateLimited: 3 }));
    p.stop();
    const text = out.text().replace(ANSI, '');
    expect(out.text()).toMatch(ANSI); // cursor control: a redrawn line, not a log
    expect(text).toMatch(/run R2 \[[█░]+\] 6\/10 \| activated 5 expired 0 failed 1 \| 7\.5\/10\.0 calls\/s, 429s 3 \| ETA 2s/); // 4 rows in 2 s, 4 left
  });

  it('on a real pseudo-terminal (script), picks the bar by itself', () => {
    const script = '/usr/bin/script';
    if (!existsSync(script)) return; // util-linux's script is part of Debian's base system; nothing to drive a pty without it
    const cmd = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(join(ROOT, 'test/ops/fixtures/progress-tty.ts'))}`;
    const r = spawnSync(script, ['-qfec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, TERM: 'xterm' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('stderr is a TTY: true');
    expect(r.stdout).toMatch(ANSI);
    const plain = r.stdout.replace(ANSI, '');
    expect(plain).toMatch(/run tty-check \[[█░]+\] 6\/6 \| activated 6 expired 0 failed 0 \| 2\.5\/5\.0 calls\/s, 429s 1 \| ETA 0s/);
    expect(plain).not.toMatch(/^\[\d+s\] run tty-check/m); // not the plain-line style
  });
});

describe('rates and durations', () => {
  it('RateMeter: per second over the window, ETA for what is left', () => {
    const m = new RateMeter(10_000);
    expect(m.perSecond()).toBeUndefined();
    m.sample(0, 0);
    m.sample(20, 4000);
    expect(m.perSecond()).toBe(5);
    expect(m.etaMs(30)).toBe(6000);
    expect(m.etaMs(0)).toBe(0);
    expect(m.etaMs(undefined)).toBeUndefined();
    m.sample(20, 30_000); // nothing for a long while: the window forgets the old burst
    expect(m.perSecond()).toBe(0);
  });

  it('formatDuration', () => {
    expect([formatDuration(undefined), formatDuration(12_400), formatDuration(245_000), formatDuration(3_720_000)]).toEqual(['?', '12s', '4m 05s', '1h 02m']);
  });

  it('CallRate turns cumulative limiter counters into calls/s, budget/s and 429s', () => {
    const r = new CallRate(10_000);
    const c = (granted: number, rl: number) => countersOf({ granted, rateLimited: { bucket: rl, concurrency: 1, resource: 0 } });
    expect(r.fields(c(0, 0), 0, 300)).toEqual({ budgetPerSec: 5, rateLimited: 1 });
    expect(r.fields(c(40, 2), 10_000, 300)).toEqual({ callsPerSec: 4, budgetPerSec: 5, rateLimited: 3 });
    expect(r.fields(undefined, 11_000)).toEqual({});
  });
});

describe('call counters in Redis (status --watch on another machine)', () => {
  let prefix: string | undefined;
  afterEach(async () => {
    if (prefix) await cleanPrefix(redisUrl(), prefix);
  });

  it('sums what every process published', async () => {
    prefix = uniquePrefix('calls');
    const a = new Redis(redisUrl());
    const b = new Redis(redisUrl());
    try {
      let ca = { calls: 10, rateLimited: 1 };
      const pa = publishCallStats(a, prefix, () => ca, { intervalMs: 60_000, budgetPerMinute: 600 });
      const pb = publishCallStats(b, prefix, () => ({ calls: 5, rateLimited: 0 }), { intervalMs: 60_000, budgetPerMinute: 600 });
      ca = { calls: 12, rateLimited: 2 };
      await Promise.all([pa.stop(), pb.stop()]); // stop publishes the last counts
      expect(await readCallStats(a, prefix)).toEqual({ calls: 17, rateLimited: 2, processes: 2, budgetPerMinute: 600 });
      expect(await a.pttl(`${prefix}:be:calls`)).toBeGreaterThan(0);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});
