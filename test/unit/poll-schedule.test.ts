import { describe, expect, it } from 'vitest';
import { graceAfterExpiry, nextPoll, pollsBeforeExpiry } from '../../src/rows/poll-schedule.js';
import { retryDelay, MAX_BACKOFF_MS } from '../../src/queue/backoff.js';
import { DEFAULT_RUN_SETTINGS } from '../../src/config.js';

const settings = { ...DEFAULT_RUN_SETTINGS };

function walk(windowMs: number, s = settings) {
  const start = 1_000_000;
  const exp = start + windowMs;
  const times: number[] = [];
  let now = start;
  for (let polls = 0; polls < 100; polls++) {
    const plan = nextPoll({ settings: s, polls, startedAt: start, expiresAt: exp, now });
    if (plan.kind === 'give-up') break;
    times.push(plan.at - start);
    now = plan.at;
  }
  return times;
}

describe('poll schedule', () => {
  it("matches the issue's defaults for Okta's 10-minute window: 5 s first, doubling, at most 60 s", () => {
    const t = walk(600_000);
    expect(t[0]).toBe(5000);
    expect(t[1]! - t[0]!).toBe(10_000);
    expect(t[2]! - t[1]!).toBe(20_000);
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    expect(Math.max(...gaps.slice(0, -4))).toBeLessThanOrEqual(60_000);
  });

  it('lands one poll just after expiresAt, then a few more, then gives up', () => {
    const t = walk(600_000);
    const afterExpiry = t.filter((x) => x > 600_000);
    expect(afterExpiry[0]).toBe(600_000 + graceAfterExpiry(600_000));
    expect(afterExpiry.length).toBe(1 + 3);
    expect(t.filter((x) => x < 600_000).length).toBe(pollsBeforeExpiry(settings, 600_000) - 1);
  });

  it('a scaled-down window gives the same number of polls as the real one', () => {
    expect(walk(3000).length).toBe(walk(600_000).length);
    expect(walk(1500).length).toBe(walk(600_000).length);
  });

  it('explicit --poll-initial-ms / --poll-max-ms override the fractions', () => {
    const t = walk(600_000, { ...settings, pollInitialMs: 1000, pollMaxMs: 2000 });
    expect(t[0]).toBe(1000);
    expect(t[1]! - t[0]!).toBe(2000);
    expect(t[2]! - t[1]!).toBe(2000);
  });
});

describe('retry backoff', () => {
  it('grows exponentially with full jitter, bounded', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    expect(retryDelay(1, 1000, lo)).toBe(500);
    expect(retryDelay(1, 1000, hi)).toBeLessThanOrEqual(1000);
    expect(retryDelay(4, 1000, hi)).toBeGreaterThan(7000);
    expect(retryDelay(4, 1000, hi)).toBeLessThanOrEqual(8000);
    expect(retryDelay(30, 1000, hi)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    const many = Array.from({ length: 200 }, () => retryDelay(5, 1000));
    expect(new Set(many).size).toBeGreaterThan(50); // spread, not a wave
  });
});
