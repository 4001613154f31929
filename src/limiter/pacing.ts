/**
 * The limiter's arithmetic, free of Redis and timers so it can be unit-tested.
 *
 * The acquire and pause scripts (scripts.ts) run the same rules atomically inside Redis;
 * this file is their reference. test/limiter/pacing.test.ts checks both against each
 * other, so a change here that is not made there (or the reverse) fails a test.
 */

/** One Okta rate window as the cluster knows it. */
export interface WindowView {
  /**
   * When it is safe to assume the window is over (server clock, ms): nothing beyond the
   * window's budget is sent before this.
   */
  endMs: number;
  /**
   * The window's last call goes no earlier than this (the probe, see windowEnds()). Only
   * set when it is before endMs; otherwise the window's calls are spread to end one
   * interval before endMs.
   */
  probeMs?: number;
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
  /** Estimated window length, when known. */
  windowLengthMs?: number;
  /** Limit of the last window seen, used with windowLengthMs when the current window is unknown. */
  lastLimit?: number;
}

export interface Pace {
  /** Milliseconds between two grants, cluster-wide. */
  intervalMs: number;
  /** Set when nothing may be granted before this time (budget spent, or the probe's turn). */
  blockedUntilMs?: number;
}

/**
 * How fast the cluster may send to one bucket right now.
 *
 * - Never faster than the configured rate (an upper bound and a starting point).
 * - Inside a known window: spread what is left evenly over the time left, so on track
 *   this is exactly limit / window length: even pacing from the start of a window, no
 *   burst. Behind (Remaining high for the time left) it speeds up, within the configured
 *   bound; ahead, it slows down. Without a probe the last call lands one interval before
 *   endMs; with one (probeMs) the last call waits for probeMs and the others are spread
 *   before it.
 * - Budget spent: blocked until endMs.
 * - No window known but its shape is (limit and length from earlier windows): limit / length.
 */
export function pace(input: PaceInput): Pace {
  const configured = 60_000 / input.configuredPerMinute;
  const w = input.window;
  if (w) {
    const left = w.limit - w.used;
    if (left <= 0) return { intervalMs: configured, blockedUntilMs: w.endMs };
    if (w.probeMs !== undefined && w.probeMs < w.endMs) {
      if (left === 1) return w.probeMs > input.nowMs ? { intervalMs: configured, blockedUntilMs: w.probeMs } : { intervalMs: configured };
      return { intervalMs: Math.max(configured, (w.probeMs - input.nowMs) / (left - 1)) };
    }
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
 * Two estimates of a window's end closer than this belong to one window when answers
 * carry no window identity. Answers do carry one (X-Rate-Limit-Reset, the same for every
 * answer of a window), so this only bounds the window-length estimate from reset steps:
 * windows shorter than 1 s are not told apart; Okta's are 60 s.
 */
export const SAME_WINDOW_MS = 1000;

// ---- the window's phase ------------------------------------------------------------------

/**
 * What the cluster knows of a window's length from its answers (ms). Each answer tells
 * which window it was counted in (X-Rate-Limit-Reset) and the limiter knows when it
 * granted that request, so:
 * - lo: a request granted this long after the window's first one was still counted in
 *   it: the window is longer than lo;
 * - hi: the first request of the next window was granted this long after the first one
 *   of this window: where a window opens with its first request (as at Okta), the window
 *   is at most hi long.
 * The window's last call is sent at about the middle, so each window answers "longer or
 * shorter than that" and the bracket closes around the true length within a few windows.
 */
export interface LengthBracket {
  lo?: number;
  hi?: number;
}

/**
 * Folds one sample in. A sample that contradicts the other bound (network jitter, or a
 * window that did not open with our request) wins: the other bound moves to one guard
 * beyond it, so the bracket stays usable and follows the newest evidence.
 */
export function noteLength(b: LengthBracket, kind: 'lo' | 'hi', valueMs: number, guardMs: number): LengthBracket {
  if (!(valueMs > 0)) return b;
  const out = { ...b };
  if (kind === 'lo') {
    if (out.lo === undefined || valueMs > out.lo) out.lo = valueMs;
    if (out.hi !== undefined && out.lo > out.hi) out.hi = out.lo + guardMs;
  } else {
    if (out.hi === undefined || valueMs < out.hi) out.hi = valueMs;
    if (out.lo !== undefined && out.hi < out.lo) out.lo = out.hi - guardMs;
  }
  return out;
}

/** Each new window loosens both bounds by an eighth of the guard, so old samples fade within a few windows. */
export function relaxLength(b: LengthBracket, guardMs: number): LengthBracket {
  const out: LengthBracket = {};
  if (b.lo !== undefined) out.lo = b.lo - guardMs / 8;
  if (b.hi !== undefined) out.hi = b.hi + guardMs / 8;
  return out;
}

/** The length to pace to: the bracket's middle; hi alone (an upper bound) when that is all there is. */
export function lengthEstimate(b: LengthBracket): number | undefined {
  if (b.hi === undefined) return undefined;
  return b.lo === undefined ? b.hi : (b.lo + b.hi) / 2;
}

/**
 * Time between the probe (the window's last call) and the first call counted on the next
 * window: two intervals, at least 20 ms, so network jitter between the window's first
 * request and the next window's never lands a call on a spent window.
 */
export function boundaryGuardMs(lengthMs: number, limit: number): number {
  return Math.max(20, (2 * lengthMs) / Math.max(1, limit));
}

export interface WindowEndsInput {
  /** The window's end from X-Rate-Limit-Reset (the smallest estimate), if known. Never too early. */
  resetEndMs?: number;
  /** The learned phase applies (windows were seen to end before their Reset). */
  phase: boolean;
  /** When the window's first known request was granted. */
  firstMs?: number;
  /** When the latest request known to be counted in this window was granted. */
  lastMs?: number;
  lengthMs?: number;
  limit?: number;
}

/**
 * Where the current window ends. X-Rate-Limit-Reset has whole-second precision (and the
 * Date it is compared with too), so it can say "ends within the next second" at best.
 * Where windows open with their first request, the window ends `length` after the request
 * that opened it, to the millisecond: endMs = first + length + guard, never before the
 * latest request known to be counted in it + guard, never after the Reset; probeMs =
 * first + length. Without phase knowledge both are the Reset's end.
 */
export function windowEnds(i: WindowEndsInput): { probeMs?: number; endMs?: number } {
  if (!i.phase || i.firstMs === undefined || i.lengthMs === undefined || i.limit === undefined) {
    return { probeMs: i.resetEndMs, endMs: i.resetEndMs };
  }
  const guard = boundaryGuardMs(i.lengthMs, i.limit);
  let probe = i.firstMs + i.lengthMs;
  let end = probe + guard;
  if (i.lastMs !== undefined && i.lastMs + guard > end) end = i.lastMs + guard;
  if (i.resetEndMs !== undefined && i.resetEndMs < end) end = i.resetEndMs;
  if (probe > end) probe = end;
  return { probeMs: probe, endMs: end };
}

// ---- concurrency and lanes ---------------------------------------------------------------

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

// ---- pauses ------------------------------------------------------------------------------

/** No pause lasts longer than this, whatever a header says (Okta's windows are one minute). */
export const MAX_PAUSE_MS = 5 * 60_000;
/** A bucket that has shown no window yet is assumed to have Okta's: one minute. */
export const DEFAULT_WINDOW_MS = 60_000;
/** Rounding of X-Rate-Limit-Reset (ceil) and Date (floor): a reset can be this much further than the window. */
export const RESET_ROUNDING_MS = 2000;

/**
 * The longest a bucket 429 may pause the bucket: the longest reset this bucket's answers
 * have shown (DEFAULT_WINDOW_MS if none yet) plus the headers' rounding, at most MAX_PAUSE_MS.
 */
export function pauseClampMs(longestShownResetMs: number | undefined): number {
  return Math.min(MAX_PAUSE_MS, (longestShownResetMs ?? DEFAULT_WINDOW_MS) + RESET_ROUNDING_MS);
}

/** Okta's read-only mode (503, E0000010): the first pause. */
export const READ_ONLY_FIRST_PAUSE_MS = 30_000;

/** The pause after the n-th read-only answer in a row (n >= 1): 30 s, doubling, at most 5 minutes. */
export function readOnlyPauseMs(n: number): number {
  return Math.min(MAX_PAUSE_MS, READ_ONLY_FIRST_PAUSE_MS * 2 ** Math.max(0, n - 1));
}

/** Node fires a setTimeout above this at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay fit for setTimeout: finite, at least 1 ms, at most `capMs` (the caller re-checks then). */
export function timerDelayMs(ms: number, capMs = 60_000): number {
  if (!Number.isFinite(ms)) return Math.min(capMs, MAX_TIMER_MS);
  return Math.max(1, Math.min(Math.ceil(ms), capMs, MAX_TIMER_MS));
}
