/**
 * Okta's rate-limit headers: X-Rate-Limit-Limit / -Remaining / -Reset (Reset in UTC
 * epoch seconds) on every answer, plus Date. The time until the reset is computed
 * against the answer's Date header when there is one, as Okta's Node SDK does, so a
 * skewed local clock does not stretch or shrink the wait.
 */
import type { RateLimitInfo, RateLimitKind } from './types.js';

type HeaderValue = string | string[] | undefined;
type Headers = Record<string, HeaderValue>;

function first(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Every number >= 0 in a header that may come more than once: undici gives a repeated
 * header as an array, a proxy may have joined the lines with commas. Unreadable parts are
 * left out.
 */
function numbers(value: HeaderValue): number[] {
  if (value === undefined) return [];
  const out: number[] = [];
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const part of line.split(',')) {
      const raw = part.trim();
      if (raw === '') continue;
      const n = Number(raw);
      if (Number.isFinite(n) && n >= 0) out.push(n);
    }
  }
  return out;
}

/** The most conservative reading of a repeated header: the lowest value, or the highest for `max`. */
function conservative(value: HeaderValue, pick: 'min' | 'max'): number | undefined {
  const all = numbers(value);
  if (!all.length) return undefined;
  return pick === 'min' ? Math.min(...all) : Math.max(...all);
}

/**
 * Parses the rate-limit headers of one answer (header names in lower case, as undici
 * and node:http give them). Undefined when Limit, Remaining or Reset is missing or
 * has no value that is a number >= 0.
 */
export function parseRateLimit(headers: Headers, now: number = Date.now()): RateLimitInfo | undefined {
  // A header sent twice (two gateways, a proxy adding its own): the lowest Limit, the
  // lowest Remaining and the latest Reset, so the limiter never spends more than either allows.
  const limit = conservative(headers['x-rate-limit-limit'], 'min');
  const remaining = conservative(headers['x-rate-limit-remaining'], 'min');
  const reset = conservative(headers['x-rate-limit-reset'], 'max');
  if (limit === undefined || remaining === undefined || reset === undefined) return undefined;
  const resetAtMs = reset * 1000;
  const date = first(headers['date']);
  const serverNow = date ? Date.parse(date) : NaN;
  const base = Number.isNaN(serverNow) ? now : serverNow;
  return { limit, remaining, resetAtMs, resetInMs: Math.max(0, resetAtMs - base) };
}

/**
 * Which limit a 429 hit:
 * - `concurrency`: the org's cap on simultaneous requests (Okta answers `X-Rate-Limit-Limit: 0`);
 * - `bucket`: the endpoint's budget for this window ran dry (Remaining 0), or no headers to tell;
 * - `resource`: the bucket still has room, so a per-resource limit said no (a factor's
 *   5 activation attempts in 5 minutes, one SMS per phone every 30 s): only that row waits.
 */
export function classifyRateLimit(info: RateLimitInfo | undefined): RateLimitKind {
  if (!info) return 'bucket';
  if (info.limit === 0) return 'concurrency';
  if (info.remaining === 0) return 'bucket';
  return 'resource';
}
