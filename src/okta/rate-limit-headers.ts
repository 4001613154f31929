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

function nonNegativeNumber(value: HeaderValue): number | undefined {
  const raw = first(value);
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Parses the rate-limit headers of one answer (header names in lower case, as undici
 * and node:http give them). Undefined when Limit, Remaining or Reset is missing or
 * not a number >= 0.
 */
export function parseRateLimit(headers: Headers, now: number = Date.now()): RateLimitInfo | undefined {
  const limit = nonNegativeNumber(headers['x-rate-limit-limit']);
  const remaining = nonNegativeNumber(headers['x-rate-limit-remaining']);
  const reset = nonNegativeNumber(headers['x-rate-limit-reset']);
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
