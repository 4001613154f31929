/**
 * The limiter's arithmetic, free of Redis and timers so it can be unit-tested.
 *
 * The acquire script (scripts.ts) runs the same rules atomically inside Redis; this
 * file is their reference. test/limiter/pacing.test.ts checks both against each other,
 * so a change here that is not made there (or the reverse) fails a test.
 */

/** One Okta rate window as the cluster knows it. */
export interface WindowView {
  /** When the window resets (server clock, ms). */
  endMs: number;
  /** X-Rate-Limit-Limit. */
  limit: number;
  /** Calls counted against this window: our own grants, or Okta's Limit − Remaining if higher. */
  used: number;
}

export interface PaceInput {
  nowMs: number;
  /** The configured upper bound, calls per minute. */
  configuredPerMinute: number;
  /** The current window, when an answer's headers told us about it. */
  window?: WindowView;
  /** Estimated window length (the step between two observed resets), when known. */
  windowLengthMs?: number;
  /** Limit of the last window seen, used with windowLengthMs when the current window is unknown. */
  lastLimit?: number;
}

export interface Pace {
  /** Milliseconds between two grants, cluster-wide. */
  intervalMs: number;
  /** Set when nothing may be granted before this time (the window's budget is spent). */
  blockedUntilMs?: number;
}

/**
 * How fast the cluster may send to one bucket right now.
 *
 * - Never faster than the configured rate (an upper bound and a starting point).
 * - Inside a known window: spread what is left evenly over the time left, so the last
 *   call lands on the reset. On track this is exactly limit / window length: even
 *   pacing from the start of a window, no burst. Behind (Remaining high for the time
 *   left) it speeds up, within the configured bound; ahead, it slows down.
 * - Budget spent: blocked until the reset.
 * - No window known but its shape is (limit and length from earlier windows): limit / length.
 */
export function pace(input: PaceInput): Pace {
  const configured = 60_000 / input.configuredPerMinute;
  const w = input.window;
  if (w) {
    const left = w.limit - w.used;
    if (left <= 0) return { intervalMs: configured, blockedUntilMs: w.endMs };
    return { intervalMs: Math.max(configured, (w.endMs - input.nowMs) / left) };
  }
  if (input.lastLimit !== undefined && input.lastLimit > 0 && input.windowLengthMs !== undefined) {
    return { intervalMs: Math.max(configured, input.windowLengthMs / input.lastLimit) };
  }
  return { intervalMs: configured };
}

/** How many tokens one Redis round trip may take: about batchWindowMs worth, 1..maxBatch. */
export function batchSize(intervalMs: number, batchWindowMs: number, maxBatch: number): number {
  return Math.max(1, Math.min(maxBatch, Math.floor(batchWindowMs / intervalMs)));
}

/**
 * Two estimates of a window's end closer than this belong to one window. Each answer's
 * "reset in" is Reset (whole seconds) minus Date (whole seconds, floored), so two answers
 * of one window can disagree by up to a second; a tolerance derived from a (noisy)
 * window-length estimate once split one window in two. Windows shorter than 2 s are
 * therefore not told apart; Okta's are about 60 s.
 */
export const SAME_WINDOW_MS = 1000;

export interface CapState {
  /** Cap set by the last decrease; undefined = at the configured maximum. */
  low?: number;
  /** When `low` was set (ms). */
  atMs: number;
}

/** Additive increase: +1 every stepMs since the last decrease, up to the configured maximum. */
export function currentCap(state: CapState, nowMs: number, max: number, stepMs: number): number {
  if (state.low === undefined) return max;
  return Math.min(max, state.low + Math.floor((nowMs - state.atMs) / stepMs));
}

/** Multiplicative decrease after a concurrency 429: half, never below 1. */
export function decreasedCap(cap: number): number {
  return Math.max(1, Math.floor(cap / 2));
}

/**
 * Lane choice for one token when both lanes want it: the lane furthest below its share
 * of recent grants goes first (counts decay, so this is a share over the last seconds).
 * pollShare in [0, 1]; ties go to the poll lane.
 */
export function pollGoesFirst(recentMain: number, recentPoll: number, pollShare: number): boolean {
  const eps = 1e-9;
  return recentPoll / Math.max(pollShare, eps) <= recentMain / Math.max(1 - pollShare, eps);
}

/** Small random spread added to a resume after a pause, so N workers do not stampede. */
export function resumeJitterMs(waitMs: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(500, Math.max(50, waitMs * 0.05)));
}
