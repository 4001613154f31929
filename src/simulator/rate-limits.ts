/**
 * Okta-style rate limits. A bucket has a budget per fixed window; as at Okta, a window
 * opens with the first request after the previous one closed, so windows are not
 * aligned to the clock. Every answer carries the bucket's X-Rate-Limit-* headers,
 * Reset being the window's end in epoch seconds, rounded up.
 */

export type BucketName = 'factors' | 'users' | 'groups' | 'logs' | 'oauth' | 'other';

export interface BucketState {
  limit: number;
  windowMs: number;
  windowStart: number;
  windowEnd: number;
  used: number;
  /** Requests refused by this bucket since the last stats reset. */
  rateLimited: number;
  /** Most requests admitted in one window since the last stats reset. */
  maxUsed: number;
  windows: number;
}

export interface RateHeaders {
  'X-Rate-Limit-Limit': string;
  'X-Rate-Limit-Remaining': string;
  'X-Rate-Limit-Reset': string;
}

export class Bucket {
  readonly state: BucketState;

  constructor(limit: number, windowMs: number) {
    this.state = { limit, windowMs, windowStart: 0, windowEnd: 0, used: 0, rateLimited: 0, maxUsed: 0, windows: 0 };
  }

  /** Charges one request. Returns false (and charges nothing) when the window's budget is spent. */
  take(now: number): boolean {
    const s = this.state;
    if (now >= s.windowEnd) {
      s.windowStart = now;
      s.windowEnd = now + s.windowMs;
      s.used = 0;
      s.windows++;
    }
    if (s.used >= s.limit) {
      s.rateLimited++;
      return false;
    }
    s.used++;
    if (s.used > s.maxUsed) s.maxUsed = s.used;
    return true;
  }

  headers(): RateHeaders {
    const s = this.state;
    return {
      'X-Rate-Limit-Limit': String(s.limit),
      'X-Rate-Limit-Remaining': String(Math.max(0, s.limit - s.used)),
      'X-Rate-Limit-Reset': String(Math.ceil(s.windowEnd / 1000)),
    };
  }

  resetStats(): void {
    this.state.rateLimited = 0;
    this.state.maxUsed = this.state.used;
  }
}

/** The concurrency limit's answer: Okta says X-Rate-Limit-Limit: 0. */
export function concurrencyHeaders(now: number): RateHeaders {
  return {
    'X-Rate-Limit-Limit': '0',
    'X-Rate-Limit-Remaining': '0',
    'X-Rate-Limit-Reset': String(Math.ceil(now / 1000) + 1),
  };
}

/**
 * A per-resource limit: at most `limit` events per key in any sliding `windowMs`
 * (activation attempts per factor, SMS per phone number).
 */
export class SlidingLimit {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records an event for `key` unless the limit is reached; returns whether it was allowed. */
  tryTake(key: string, now: number): boolean {
    const since = now - this.windowMs;
    const list = (this.events.get(key) ?? []).filter((t) => t > since);
    if (list.length >= this.limit) {
      this.events.set(key, list);
      return false;
    }
    list.push(now);
    this.events.set(key, list);
    return true;
  }

  /** Milliseconds until `key` may take again (0 if it may now). */
  waitMs(key: string, now: number): number {
    const list = (this.events.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length < this.limit) return 0;
    return list[list.length - this.limit]! + this.windowMs - now;
  }
}
