import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyRateLimit, parseRateLimit } from '../../src/okta/rate-limit-headers.js';

describe('parseRateLimit', () => {
  it('computes resetInMs against the Date header, not the local clock (as the Node SDK does)', () => {
    const info = parseRateLimit(
      {
        'x-rate-limit-limit': '600',
        'x-rate-limit-remaining': '0',
        'x-rate-limit-reset': '1700000042',
        date: new Date(1700000030_000).toUTCString(),
      },
      // the local clock is an hour off: it must not matter
      1700000030_000 + 3_600_000,
    );
    expect(info).toEqual({ limit: 600, remaining: 0, resetAtMs: 1700000042_000, resetInMs: 12_000 });
  });

  it('falls back to the local clock without a Date header (or with an unreadable one)', () => {
    const headers = { 'x-rate-limit-limit': '50', 'x-rate-limit-remaining': '7', 'x-rate-limit-reset': '1000' };
    expect(parseRateLimit(headers, 995_500)).toEqual({ limit: 50, remaining: 7, resetAtMs: 1_000_000, resetInMs: 4_500 });
    expect(parseRateLimit({ ...headers, date: 'yesterday-ish' }, 999_000)?.resetInMs).toBe(1_000);
  });

  it('never gives a negative wait when the reset is already past', () => {
    const info = parseRateLimit({
      'x-rate-limit-limit': '10',
      'x-rate-limit-remaining': '0',
      'x-rate-limit-reset': '100',
      date: new Date(200_000).toUTCString(),
    });
    expect(info?.resetInMs).toBe(0);
  });

  it('is undefined when a header is missing or not a number >= 0', () => {
    expect(parseRateLimit({})).toBeUndefined();
    expect(parseRateLimit({ 'x-rate-limit-limit': '10', 'x-rate-limit-remaining': '3' })).toBeUndefined();
    expect(parseRateLimit({ 'x-rate-limit-limit': 'ten', 'x-rate-limit-remaining': '3', 'x-rate-limit-reset': '1' })).toBeUndefined();
    expect(parseRateLimit({ 'x-rate-limit-limit': '10', 'x-rate-limit-remaining': '-1', 'x-rate-limit-reset': '1' })).toBeUndefined();
  });

  it('a header sent twice (an array from undici, or joined with commas): lowest Limit, lowest Remaining, latest Reset', () => {
    const asArrays = parseRateLimit({ 'x-rate-limit-limit': ['99', '10'], 'x-rate-limit-remaining': ['2', '7'], 'x-rate-limit-reset': ['5', '9'] }, 0);
    expect(asArrays).toEqual({ limit: 10, remaining: 2, resetAtMs: 9000, resetInMs: 9000 });
    const joined = parseRateLimit({ 'x-rate-limit-limit': '1200, 600', 'x-rate-limit-remaining': '598,1187', 'x-rate-limit-reset': '1700000060, 1700000042' }, 1700000000_000);
    expect(joined).toEqual({ limit: 600, remaining: 598, resetAtMs: 1700000060_000, resetInMs: 60_000 });
    // an unreadable copy does not hide a readable one
    expect(parseRateLimit({ 'x-rate-limit-limit': ['n/a', '600'], 'x-rate-limit-remaining': '5', 'x-rate-limit-reset': '1' }, 0)?.limit).toBe(600);
  });

  it('property: resetInMs = max(0, reset*1000 - Date) for any second-precision Date', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: -3600, max: 3600 }), (dateSec, delta) => {
        const reset = Math.max(0, dateSec + delta);
        const info = parseRateLimit({
          'x-rate-limit-limit': '600',
          'x-rate-limit-remaining': '1',
          'x-rate-limit-reset': String(reset),
          date: new Date(dateSec * 1000).toUTCString(),
        });
        expect(info?.resetInMs).toBe(Math.max(0, reset * 1000 - dateSec * 1000));
      }),
    );
  });
});

describe('classifyRateLimit (which 429)', () => {
  const at = (limit: number, remaining: number) => ({ limit, remaining, resetAtMs: 0, resetInMs: 0 });
  it('X-Rate-Limit-Limit: 0 is the org concurrency cap', () => expect(classifyRateLimit(at(0, 0))).toBe('concurrency'));
  it('Remaining 0 is the bucket', () => expect(classifyRateLimit(at(600, 0))).toBe('bucket'));
  it('Remaining > 0 is a per-resource limit (5 activations per factor, one SMS per phone)', () =>
    expect(classifyRateLimit(at(600, 412))).toBe('resource'));
  it('no headers: treated as the bucket', () => expect(classifyRateLimit(undefined)).toBe('bucket'));
});
