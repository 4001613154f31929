/**
 * The simulator's one time source. Every time-based rule (rate windows, activation
 * lifetimes, scan delays, SMS intervals) reads it, so tests can scale time down or
 * inject their own. SimClock adds the org's clock offset (`clockOffsetMs`): Okta's
 * clock may run ahead of or behind the runner's, and everything the simulator writes
 * (Date, created, expiresAt, published, X-Rate-Limit-Reset) follows Okta's.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A base clock (real time, or a test's) plus an offset that may change at run time. */
export class SimClock implements Clock {
  constructor(
    private readonly base: Clock,
    public offsetMs = 0,
  ) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
