/**
 * enroll job: one input row → one push (or sms/call/email) factor at Okta.
 *
 * At-least-once safe: before a request that may already have happened at Okta (the
 * row's progress says an earlier try was sent), the user's factors are listed and an
 * existing factor of the type is adopted instead of enrolling again; an E0000001
 * answer to the enroll itself leads to the same adoption.
 *
 * Re-enrollment runs (settings.revisit: `reenroll` and nightly runs) always look first:
 * an ACTIVE factor is left alone ("already active"), an expired push activation is
 * restarted through its activate link, a missing factor is enrolled. Every enrollment
 * and every restart, in any run, is counted per user and factor type across runs
 * (src/reenroll/attempts.ts); with a cap (settings.maxActivations) a user at the cap
 * ends `failed` MAX_ATTEMPTS without a new activation (a revisit: without any request).
 */
import { OktaApiError } from '../src/okta/errors.js';
import type { EnrollRequest, FactorView } from '../src/okta/types.js';
import { unpackInput, type Progress } from '../src/runs/records.js';
import type { InputRow } from '../src/csv/input-row.js';
import type { RunSettings } from '../src/config.js';
import type { RunMeta } from '../src/runs/store.js';
import type { JobContext, JobDeps, RowJobData } from './context.js';
import { failedRecord, handleJobError, outcomeRecord } from './outcome.js';
import { continueWaiting, joinNote, recordFactor } from './factor-state.js';
import { deliverActivation } from './deliver.js';
import { ledgerOf, maxAttemptsSummary } from '../src/reenroll/attempts.js';
import { revisitOf } from '../src/reenroll/settings.js';

/** How long a row waits for a lower row given by login to be resolved. */
const CLAIM_WAIT_MS = 300;

export function claimKey(userId: string, factorType: string): string {
  return `${userId}|${factorType.toLowerCase()}`;
}

export function enrollBody(input: InputRow, settings: RunSettings): EnrollRequest {
  const body: EnrollRequest = { factorType: input.factorType, provider: input.provider };
  const profile: NonNullable<EnrollRequest['profile']> = {};
  if (settings.deviceFields && input.deviceType) body.deviceType = input.deviceType;
  if (settings.deviceFields && input.deviceName) profile.deviceName = input.deviceName;
  if ((input.factorType === 'sms' || input.factorType === 'call') && input.phoneNumber) profile.phoneNumber = input.phoneNumber;
  if (input.factorType === 'email' && input.email) profile.email = input.email;
  if (Object.keys(profile).length) body.profile = profile;
  return body;
}

export async function processEnroll(data: RowJobData, ctx: JobContext, deps: JobDeps): Promise<void> {
  const { store } = deps;
  const { runId, row } = data;
  const meta = await store.getMeta(runId, 10_000);
  if (!meta) return; // the run was deleted
  const settings = meta.settings;
  // One round trip for the row's three records.
  const [outcome, packed, p] = await Promise.all([store.getOutcome(runId, row), store.getInput(runId, row), store.getProgress(runId, row)]);
  if (outcome) return;
  if (!packed) {
    await store.finalize(runId, row, failedRecord(p, 'INTERNAL_ERROR', 'the row input is missing from Redis', deps.now()));
    return;
  }
  const input = unpackInput(row, packed);
  try {
    await enrollRow(data, input, p, meta, ctx, deps);
  } catch (err) {
    await handleJobError(err, data, p, ctx, deps);
  }
}

async function enrollRow(data: RowJobData, input: InputRow, p: Progress, meta: RunMeta, ctx: JobContext, deps: JobDeps): Promise<void> {
  const settings = meta.settings;
  const { store, okta } = deps;
  const { runId, row } = data;

  // 1. A row given by login: resolve it, then claim (user, factor type).
  let uid = input.userId ?? p.uid;
  if (!uid) {
    const user = await okta.getUser(input.login!);
    uid = user.id;
    p.uid = uid;
    await store.setProgress(runId, row, p);
    const owner = await store.claimMin(runId, claimKey(uid, input.factorType), row);
    if (owner !== row) {
      await store.finalize(runId, row, failedRecord(p, 'DUPLICATE_ROW', `same user and factorType as row ${owner}`, deps.now()));
      return;
    }
  } else if (!p.uid) {
    p.uid = uid;
  }

  // 2. Wait for lower rows given by login (they may name the same user); hold the claim.
  const gate = await store.enrollGate(runId, claimKey(uid, input.factorType), row);
  if (gate === 'wait') await ctx.delayUntil(deps.now() + CLAIM_WAIT_MS);
  if (typeof gate === 'object') {
    await store.finalize(runId, row, failedRecord(p, 'DUPLICATE_ROW', `same user and factorType as row ${gate.duplicateOf}`, deps.now()));
    return;
  }

  // 3. We already hold a factor (this job ran before and got that far): finish a restart
  //    that was cut short (a 429 on the factor, a retry), or keep polling.
  if (p.s === 'enrolled' && p.fid && p.rs && p.al) {
    await restartActivation(data, input, p, settings, deps);
    return;
  }
  if (p.s === 'enrolled' && p.fid) {
    // A delivery interrupted by a crash can't be redone: its send link was never stored.
    if (p.dv === 'pending') p.dv = 'failed:INTERRUPTED';
    const next = await continueWaiting(data, p, deps, settings);
    if (next.kind === 'poll') await deps.schedulePoll(runId, row, next.at);
    return;
  }

  // 3b. A revisit (reenroll): a user at the cap gets nothing, not even a look; else act on
  //     the factor the user has (active: leave it; expired: restart; pending: poll it).
  const { revisit, maxActivations: cap } = revisitOf(settings);
  if (revisit) {
    const full = await ledgerOf(store).atCap(uid, input.factorType, cap, runId, row);
    if (full) {
      await store.finalize(runId, row, failedRecord(p, 'MAX_ATTEMPTS', maxAttemptsSummary(full.count, cap!), deps.now()));
      return;
    }
    if (await adoptExisting(data, input, p, settings, deps, '')) return;
    p.n = joinNote(p.n, 'no factor of this type: enrolled');
  }

  // 4. An earlier try may have reached Okta (the row says so, the job was retried or handed
  //    back, Redis has just come back and may have lost that mark, or this file ran before):
  //    look first.
  const rerun = Boolean(meta.rerunOf);
  if (!revisit && (rerun || p.s === 'enrolling' || (p.rq ?? 0) > 0 || ctx.attemptsMade > 0 || (await store.isRecovering()))) {
    const note = rerun && p.s !== 'enrolling' ? `enrolled by an earlier run of this file (${meta.rerunOf})` : 'adopted after an interrupted try';
    if (await adoptExisting(data, input, p, settings, deps, note)) return;
  }

  // 5. Count the activation this enrollment starts (once per row and run, whatever the retries).
  const charge = await ledgerOf(store).charge(uid, input.factorType, { cap, runId, row, step: 'e', now: deps.now() });
  if (!charge.allowed) {
    await store.finalize(runId, row, failedRecord(p, 'MAX_ATTEMPTS', maxAttemptsSummary(charge.count, cap!), deps.now()));
    return;
  }

  p.s = 'enrolling';
  p.at = (p.at ?? 0) + 1;
  await store.setProgress(runId, row, p);

  let view: FactorView;
  try {
    view = await okta.enrollFactor(uid, enrollBody(input, settings), { activate: input.factorType !== 'push' });
  } catch (err) {
    if (err instanceof OktaApiError && err.errorCode === 'E0000001') {
      // "A factor of this type is already set up", or a true validation error: list and decide.
      if (await adoptExisting(data, input, p, settings, deps, 'already enrolled before this run')) return;
    }
    throw err;
  }
  await applyFactor(data, input, p, view, settings, deps, true);
}

/**
 * Look for a factor of the row's type on the user and take it over.
 * Returns false when there is none (the caller enrolls, or fails the row).
 */
export async function adoptExisting(data: RowJobData, input: InputRow, p: Progress, settings: RunSettings, deps: JobDeps, note: string): Promise<boolean> {
  const factors = await deps.okta.listFactors(p.uid!);
  const wanted = input.factorType.toLowerCase();
  const match =
    factors.find((f) => f.factorType.toLowerCase() === wanted && f.state === 'activated') ??
    factors.find((f) => f.factorType.toLowerCase() === wanted && f.state === 'waiting') ??
    factors.find((f) => f.factorType.toLowerCase() === wanted);
  if (!match) return false;
  if (match.state === 'activated') p.n = joinNote(p.n, !note || note.startsWith('already') ? 'already active' : `${note}: already active`);
  else if (note) p.n = joinNote(p.n, note);
  if (p.at === undefined || p.at === 0) p.at = 1;
  if (match.state === 'waiting' && !match.links.poll && match.links.self) {
    // A listed pending factor may carry no poll link: its own resource tells the status.
    match.links.poll = { href: match.links.self.href, method: 'GET' };
  }
  await applyFactor(data, input, p, match, settings, deps, match.state !== 'waiting' || !p.ps);
  return true;
}

/** Act on a factor's state: final outcome, keep polling, or restart an expired activation. */
export async function applyFactor(
  data: RowJobData,
  input: InputRow,
  p: Progress,
  view: FactorView,
  settings: RunSettings,
  deps: JobDeps,
  newActivation: boolean,
): Promise<void> {
  const { store } = deps;
  const now = deps.now();
  recordFactor(p, view, now, settings, newActivation);
  p.s = 'enrolled';
  switch (view.state) {
    case 'activated':
      await store.finalize(data.runId, data.row, outcomeRecord('activated', p, now));
      return;
    case 'waiting':
      if (newActivation && view.secrets) {
        // Record the factor first: a crash during delivery must not lead to a second enrollment.
        p.dv = 'pending';
        await store.setProgress(data.runId, data.row, p);
        await deliverActivation(data, input, p, view, settings, deps);
      }
      if (!p.pl) {
        await store.finalize(data.runId, data.row, failedRecord(p, 'BAD_RESPONSE', 'Okta gave no poll link for the pending factor', now));
        return;
      }
      if (input.factorType === 'push' && settings.detect === 'log' && p.uid) await store.watchUser(data.runId, p.uid, data.row);
      {
        const next = await continueWaiting(data, p, deps, settings);
        if (next.kind === 'poll') await deps.schedulePoll(data.runId, data.row, next.at);
      }
      return;
    case 'expired': {
      // An adopted factor whose activation had expired: restart it once in this run.
      if (p.al && (p.ra ?? 0) < 1) {
        p.ra = (p.ra ?? 0) + 1;
        p.rs = 1;
        await store.setProgress(data.runId, data.row, p);
        await restartActivation(data, input, p, settings, deps);
        return;
      }
      await store.finalize(data.runId, data.row, outcomeRecord('expired', p, now));
      return;
    }
    default:
      await store.finalize(data.runId, data.row, failedRecord(p, 'UNEXPECTED_STATUS', `factor status ${view.status}`, now));
  }
}

/**
 * Restart an expired activation through its activate link (p.al), counted as one
 * attempt (at the cap: the row fails MAX_ATTEMPTS instead). p.rs marks the restart as
 * not yet answered: a job parked by a 429 on the factor (Okta allows 5 activations per
 * 5 minutes per factor) or retried after a 5xx comes back here, without a second charge.
 */
export async function restartActivation(data: RowJobData, input: InputRow, p: Progress, settings: RunSettings, deps: JobDeps): Promise<void> {
  const { store } = deps;
  const factorType = input.factorType;
  const cap = revisitOf(settings).maxActivations;
  const charge = await ledgerOf(store).charge(p.uid!, factorType, { cap, runId: data.runId, row: data.row, step: `r${p.ra ?? 1}`, now: deps.now() });
  if (!charge.allowed) {
    await store.finalize(data.runId, data.row, failedRecord(p, 'MAX_ATTEMPTS', maxAttemptsSummary(charge.count, cap!), deps.now()));
    return;
  }
  const restarted = await deps.okta.activate(p.uid!, { href: p.al!, method: 'POST' });
  delete p.rs;
  p.n = joinNote(p.n, 'expired activation restarted');
  await applyFactor(data, input, p, restarted, settings, deps, true);
}
