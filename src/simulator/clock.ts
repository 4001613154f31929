/**
 * The simulator's one time source. Every time-based rule (rate windows, activation
 * lifetimes, scan delays, SMS intervals) reads it, so tests can scale time down or
 * inject their own.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
