/**
 * What to do with a factor Okta has just described (after an enroll, an adoption, an
 * activation restart or a poll): final outcome, or keep polling. Shared by the handlers.
 */
import { graceAfterExpiry, nextPoll } from '../src/queue/poll-schedule.js';
import type { FactorView, SafeLink } from '../src/okta/types.js';
import type { Progress } from '../src/runs/records.js';
import type { RunSettings } from '../src/config.js';
import type { JobDeps, RowJobData } from './context.js';
import { outcomeRecord } from './outcome.js';

/** Merge what Okta said about the factor into the row's progress (never activation material). */
export function recordFactor(p: Progress, view: FactorView, now: number, settings: RunSettings, newActivation: boolean): void {
  p.fid = view.factorId || p.fid;
  p.fs = view.status || p.fs;
  if (view.created) p.cr = view.created;
  if (view.links.poll) {
    p.pl = view.links.poll.href;
    p.pm = view.links.poll.method;
  }
  if (view.links.activate) p.al = view.links.activate.href;
  if (newActivation) {
    p.ps = now;
    p.pn = 0;
    p.exp = view.expiresAt ? Date.parse(view.expiresAt) : Number.NaN;
    // No expiresAt from Okta (e.g. a pending factor found in a listing): assume a full window, and poll it.
    p.ne = Number.isFinite(p.exp) ? undefined : 1;
    if (!Number.isFinite(p.exp)) p.exp = now + settings.activationTimeoutMs;
  } else if (view.expiresAt) {
    const exp = Date.parse(view.expiresAt);
    if (Number.isFinite(exp)) {
      p.exp = exp;
      p.ne = undefined;
    }
  }
}

export function pollLinkOf(p: Progress): SafeLink | undefined {
  if (!p.pl) return undefined;
  return { href: p.pl, method: (p.pm as SafeLink['method']) ?? 'GET' };
}

/**
 * A factor is waiting for the user: store progress and say when to poll next, or
 * report it expired when the schedule is exhausted. The caller schedules the poll
 * (a new delayed poll job after an enroll; the poll job itself, delayed, after a poll).
 */
export async function continueWaiting(
  data: RowJobData,
  p: Progress,
  deps: JobDeps,
  settings: RunSettings,
): Promise<{ kind: 'poll'; at: number } | { kind: 'expired' }> {
  const now = deps.now();
  const exp = p.exp ?? now + settings.activationTimeoutMs;
  if (now < exp && !p.ne && (await logDetects(data.runId, settings, deps))) {
    // The System Log watcher reports activations; this factor is polled once, just after
    // its activation expired, to confirm what the log did not show.
    await deps.store.setProgress(data.runId, data.row, p);
    return { kind: 'poll', at: exp + graceAfterExpiry(Math.max(1, exp - (p.ps ?? now))) };
  }
  const plan = nextPoll({
    settings,
    polls: p.pn ?? 0,
    startedAt: p.ps ?? now,
    expiresAt: p.exp ?? now + settings.activationTimeoutMs,
    now,
  });
  if (plan.kind === 'give-up') {
    p.n = joinNote(p.n, 'still pending after its activation expired');
    await deps.store.finalize(data.runId, data.row, outcomeRecord('expired', p, now));
    return { kind: 'expired' };
  }
  await deps.store.setProgress(data.runId, data.row, p);
  return { kind: 'poll', at: plan.at };
}

export function joinNote(a: string | undefined, b: string): string {
  if (!a) return b;
  if (a.includes(b)) return a;
  return `${a}; ${b}`;
}

/** System Log detection is on for this run and Okta has not refused the log. */
export async function logDetects(runId: string, settings: RunSettings, deps: JobDeps): Promise<boolean> {
  if (settings.detect !== 'log') return false;
  const meta = await deps.store.getMeta(runId, 2000);
  return meta?.logState !== 'forbidden';
}
