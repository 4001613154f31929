/**
 * When to poll a pending activation next. The schedule is expressed relative to the
 * activation window (expiresAt − start), so a window scaled down for tests or the
 * bench gives the same number of calls as Okta's 10 minutes: by default the first
 * poll comes after 1/120 of the window (5 s of 600 s), intervals grow by
 * `pollFactor` up to 1/10 of the window (60 s), and one last poll lands just after
 * expiresAt. Explicit --poll-initial-ms / --poll-max-ms override the fractions.
 */
import type { RunSettings } from '../config.js';

export interface PollPlanInput {
  settings: Pick<RunSettings, 'pollInitialMs' | 'pollFactor' | 'pollMaxMs' | 'activationTimeoutMs'>;
  /** Polls already done for this activation. */
  polls: number;
  /** When polling of this activation started (enrollment time), epoch ms. */
  startedAt: number;
  /** When the activation expires, epoch ms (from Okta, or start + activationTimeoutMs). */
  expiresAt: number;
  now: number;
}

export type PollPlan = { kind: 'poll'; at: number } | { kind: 'give-up' };

/** Polls after expiresAt before a still-waiting factor is reported expired. */
export const MAX_POLLS_AFTER_EXPIRY = 3;

export function graceAfterExpiry(windowMs: number): number {
  return Math.min(2000, Math.max(50, Math.round(windowMs / 300)));
}

export function firstPollDelay(settings: PollPlanInput['settings'], windowMs: number): number {
  return Math.max(10, settings.pollInitialMs ?? Math.round(windowMs / 120));
}

export function nextPoll(input: PollPlanInput): PollPlan {
  const { settings, polls, startedAt, expiresAt, now } = input;
  const windowMs = Math.max(1, expiresAt - startedAt);
  const grace = graceAfterExpiry(windowMs);
  if (now >= expiresAt) {
    // Already past expiry: a few last polls, spaced by the grace period, then give up.
    const afterExpiry = Math.max(0, polls - pollsBeforeExpiry(input.settings, windowMs));
    if (afterExpiry >= MAX_POLLS_AFTER_EXPIRY) return { kind: 'give-up' };
    return { kind: 'poll', at: now + grace };
  }
  const initial = firstPollDelay(settings, windowMs);
  const max = Math.max(initial, settings.pollMaxMs ?? Math.round(windowMs / 10));
  const delay = Math.min(max, initial * Math.pow(settings.pollFactor, polls));
  const at = now + delay;
  if (at >= expiresAt) return { kind: 'poll', at: expiresAt + grace };
  return { kind: 'poll', at };
}

/** How many polls the schedule makes before expiresAt (for a window polled on time). */
export function pollsBeforeExpiry(settings: PollPlanInput['settings'], windowMs: number): number {
  const initial = firstPollDelay(settings, windowMs);
  const max = Math.max(initial, settings.pollMaxMs ?? Math.round(windowMs / 10));
  let t = 0;
  let n = 0;
  while (n < 10_000) {
    const d = Math.min(max, initial * Math.pow(settings.pollFactor, n));
    if (t + d >= windowMs) return n + 1;
    t += d;
    n++;
  }
  return n;
}
