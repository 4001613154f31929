/**
 * A row's life, decided in one place. Given what the runner knows about the row
 * (RowState), its context (settings, the job, the run) and the result of the step it
 * just carried out, decide() returns the row's new state and its next step: call Okta,
 * claim the user, count an attempt, deliver the activation, wait for the user, write the
 * outcome. It is pure: no I/O, no clock of its own. The job handlers (jobs/) load the
 * state, carry out each step and feed its result back; they decide nothing.
 *
 * The promises it keeps (and test/rows/ checks, exhaustively and with property tests):
 *  - a final outcome is decided once, and every path reaches one (or a wait with a bound);
 *  - no second enrollment after one that may have reached Okta without a listing first;
 *  - every activation the row creates is delivered, or the row says why not in `delivery`;
 *  - 429s, read-only pauses and refusals never count as attempts: `attempts` counts the
 *    activations Okta created for the row (enrollments and restarts it answered).
 */
import type { FactorView, SafeLink } from '../okta/types.js';
import { buildOutcome, type OutcomeDetails, type OutcomeKind, type RowOutcome } from './outcome.js';
import { graceAfterExpiry, nextPoll } from './poll-schedule.js';
import { addNote, type Delivery, type FactorRef, type RowState } from './state.js';
import type { Trouble } from './trouble.js';
import type { Evidence } from './log-evidence.js';

export interface RowSettings {
  factorType: string;
  /** A revisit (reenroll, nightly): look at the user's factors first; restart, enroll or leave alone. */
  revisit: boolean;
  /** Activations allowed per user and factor type across runs; undefined: counted, not capped. */
  maxActivations?: number;
  deliver: 'email' | 'sms' | 'none';
  activationTimeoutMs: number;
  pollInitialMs: number | null;
  pollFactor: number;
  pollMaxMs: number | null;
  /** How long a row may keep meeting trouble on its own resource (per-resource 429s, 5xx) before it fails. */
  rowRetryWindowMs: number;
  /** How long a user "still being activated" (E0000112) is waited for. */
  provisioningWaitMs: number;
  /** How long a row waits while another run works on the same user and factor type. */
  claimWaitMs: number;
}

export interface RowContext {
  now: number;
  settings: RowSettings;
  /** The input row's user: by id, or by login (resolved with a lookup). */
  input: { userId?: string; login?: string };
  job: { kind: 'enroll' | 'poll'; attemptsMade: number; maxAttempts: number };
  run: {
    /** Only `active` runs are worked on. */
    state: string;
    /** This file ran before (same SHA-256): its factors may exist. */
    rerunOf?: string;
    /** Redis has just come back and may have lost its last writes. */
    recovering: boolean;
    /** The System Log watcher settles this run's push rows (detect=log, the log readable). */
    logDetects: boolean;
    /** The status word Okta's dialect uses for an active factor (ACTIVE today, ACTIVATED in the seed). */
    activeStatus: string;
  };
  /** A row may not start an activation before this (a send window; epoch ms). */
  notBefore?: number;
}

// ---- steps (what the job handler carries out next) ----

export type ListPurpose = 'look-first' | 'revisit' | 'after-refusal' | 'race-check';
/** Counted before an enrollment or a restart (refused at the cap), or after Okta restarted an activation on its own (counted whatever the cap). */
export type ChargePurpose = 'enroll' | 'restart' | 'observed';

export type Step =
  | { kind: 'lookup-user'; login: string }
  | { kind: 'claim'; userId: string; byLogin: boolean }
  | { kind: 'read-cap' }
  | { kind: 'list-factors'; purpose: ListPurpose }
  | { kind: 'charge'; token: string; purpose: ChargePurpose }
  | { kind: 'enroll' }
  | { kind: 'restart'; link: SafeLink }
  | { kind: 'deliver' }
  | { kind: 'read-factor'; link: SafeLink }
  | { kind: 'read-user-status' }
  | { kind: 'note-refusal'; summary: string }
  | { kind: 'check-refusals' }
  | { kind: 'note-policy-refusal' }
  // terminal steps: the job ends (or parks) after them
  | { kind: 'follow'; at: number; watch: boolean }
  | { kind: 'wait'; until: number; reason: WaitReason }
  | { kind: 'finalize'; outcome: RowOutcome }
  | { kind: 'retry'; summary: string }
  | { kind: 'requeue-enroll' }
  | { kind: 'stop-run'; reason: string; outcome?: RowOutcome }
  | { kind: 'stop-process'; reason: string }
  | { kind: 'abandon'; reason: string };

export type WaitReason = 'rate-limit' | 'read-only' | 'resource' | 'claim' | 'elsewhere' | 'refused' | 'provisioning' | 'window' | 'run-not-active';

export const TERMINAL: ReadonlySet<Step['kind']> = new Set(['follow', 'wait', 'finalize', 'retry', 'requeue-enroll', 'stop-run', 'stop-process', 'abandon']);

// ---- results (what the handler feeds back) ----

export type RefusalVerdict = 'accepted' | 'refused-everywhere' | 'undecided' | 'not-recorded';
export type ClaimResult = 'ok' | 'took-over' | 'wait' | { duplicateOf: number } | { heldBy: string };

export type StepResult =
  | { step: 'begin' }
  | { step: 'lookup-user'; user: { id: string; status?: string } }
  | { step: 'claim'; result: ClaimResult }
  | { step: 'read-cap'; count: number; ownLast: boolean }
  | { step: 'list-factors'; purpose: ListPurpose; factors: FactorView[] }
  | { step: 'charge'; purpose: ChargePurpose; allowed: boolean; count: number }
  | { step: 'enroll'; view: FactorView }
  | { step: 'restart'; view: FactorView }
  | { step: 'deliver'; delivery: Delivery }
  | { step: 'read-factor'; view: FactorView }
  | { step: 'read-user-status'; status?: string }
  | { step: 'note-refusal' | 'check-refusals'; verdict: RefusalVerdict }
  | { step: 'note-policy-refusal'; count: number }
  /** What a System Log event says about the row's push factor (log-evidence.ts). */
  | { step: 'log-evidence'; evidence: Evidence }
  /** The job's lock was found gone before (sent: false) or after (sent: true) a request that creates an activation. */
  | { step: 'lock-lost'; sent: boolean }
  | { step: 'error'; during: Step['kind']; trouble: Trouble };

export interface Decision {
  state: RowState;
  step: Step;
  /** Write the state to Redis before carrying out the step (it must survive a crash). */
  persist: boolean;
}

/** Org-wide refusals (E0000001 with no factor created) in a row with no success between them before the run stops. */
export const POLICY_REFUSALS_TO_STOP = 10;
/** Distinct users refused with E0000006 (none accepted) before the run stops. */
export const REFUSED_USERS_TO_STOP = 10;
/** How long a row waits for a lower row given by login to be resolved. */
export const CLAIM_WAIT_MS = 300;
/** Okta's read-only mode: the row looks again after this at the soonest; the shared limiter's cluster-wide pause (30 s, doubling) decides how long it really waits. */
export const READ_ONLY_WAIT_MS = 1000;
/** A held row (E0000006) looks again after this. */
export const REFUSAL_RECHECK_MS = 2000;
export const ELSEWHERE_RECHECK_MS = 5000;

export const NO_PERMISSION_SUMMARY = "no permission for this user: a protected admin (only a super admin may change one) or a user outside the admin's groups";

// ---- the decision ----

export function decide(state: RowState, ctx: RowContext, result: StepResult): Decision {
  switch (result.step) {
    case 'begin':
      return begin(state, ctx);
    case 'lookup-user':
      return claimStep({ ...state, userId: result.user.id }, ctx);
    case 'claim':
      return afterClaim(state, ctx, result.result);
    case 'read-cap': {
      const cap = ctx.settings.maxActivations;
      if (cap && result.count >= cap && !result.ownLast) return finalize(state, ctx, 'failed', { errorCode: 'MAX_ATTEMPTS', errorSummary: maxAttemptsSummary(result.count, cap) });
      return step(state, { kind: 'list-factors', purpose: 'revisit' });
    }
    case 'list-factors':
      return afterListing(state, ctx, result.purpose, result.factors);
    case 'charge':
      return afterCharge(state, ctx, result.purpose, result.allowed, result.count);
    case 'enroll':
      return afterEnroll(state, ctx, result.view);
    case 'restart':
      return afterRestart(state, ctx, result.view);
    case 'deliver':
      return follow(
        { ...state, delivery: result.delivery, ...(state.activation ? { activation: { ...state.activation, delivered: true } } : {}) },
        ctx,
      );
    case 'read-factor':
      return afterRead(state, ctx, result.view);
    case 'read-user-status':
      return finalize(state, ctx, 'failed', {
        errorCode: 'E0000038',
        errorSummary: `this operation is not allowed in the user's status${result.status ? ` (${result.status})` : ''}: activate or unsuspend the user in Okta, then re-enroll`,
      });
    case 'note-refusal':
    case 'check-refusals':
      return afterRefusalVerdict(state, ctx, result.verdict);
    case 'note-policy-refusal': {
      const outcome = buildOutcome(state, 'failed', ctx.now, {
        errorCode: 'E0000001',
        errorSummary: `Okta refused to enroll ${ctx.settings.factorType} for this user and created no factor (likely an enrollment or multifactor policy)${state.refusalSummary ? `: ${state.refusalSummary}` : ''}`,
      });
      if (result.count >= POLICY_REFUSALS_TO_STOP) {
        return terminal(state, {
          kind: 'stop-run',
          reason: `Okta refused the last ${result.count} ${ctx.settings.factorType} enrollments with E0000001 and created no factor, with no success in between: an enrollment or multifactor policy likely does not allow ${ctx.settings.factorType} for these users. Check Security > Authenticators (enrollment policies) in the Admin Console, then resume the run.`,
          outcome,
        });
      }
      return terminal(state, { kind: 'finalize', outcome });
    }
    case 'log-evidence':
      return afterLogEvidence(state, ctx, result.evidence);
    case 'lock-lost':
      if (result.sent) return step(state, { kind: 'list-factors', purpose: 'race-check' }, false);
      return terminal(state, { kind: 'abandon', reason: 'the job lost its lock before a request that creates an activation' });
    case 'error':
      return afterTrouble(state, ctx, result.during, result.trouble);
  }
}

function step(state: RowState, s: Step, persist = false): Decision {
  return { state, step: s, persist };
}

function terminal(state: RowState, s: Step): Decision {
  return { state, step: s, persist: s.kind !== 'finalize' && s.kind !== 'abandon' && s.kind !== 'stop-process' };
}

function finalize(state: RowState, ctx: RowContext, outcome: OutcomeKind, details: OutcomeDetails = {}): Decision {
  return terminal(state, { kind: 'finalize', outcome: buildOutcome(state, outcome, ctx.now, details) });
}

export function maxAttemptsSummary(count: number, cap: number): string {
  return `${count} activation attempt${count === 1 ? '' : 's'} made for this user and factor type (--max-attempts ${cap}): no new activation started`;
}

// ---- starting ----

function begin(state: RowState, ctx: RowContext): Decision {
  if (ctx.run.state !== 'active') return terminal(state, { kind: 'abandon', reason: `the run is ${ctx.run.state}` });
  if (ctx.job.kind === 'poll') {
    if (state.phase !== 'waiting' || !state.factor || !state.userId) return terminal(state, { kind: 'requeue-enroll' });
    return readStep(state);
  }
  if (state.hold?.kind === 'refused') return step(state, { kind: 'check-refusals' });
  if (state.phase === 'waiting' && state.factor && state.activation) {
    // This job ran before and got as far as holding the factor (a retry, a crash before the poll was scheduled).
    if (!state.activation.delivered) {
      // The delivery was cut short: its send link was never stored, so it cannot be redone.
      return follow({ ...state, delivery: deliveryOwed(ctx) ? 'failed:INTERRUPTED' : 'none', activation: { ...state.activation, delivered: true } }, ctx, true);
    }
    return follow(state, ctx);
  }
  if (state.phase === 'restarting' && state.factor?.activateLink && state.restartCharged) {
    // A restart that was counted and may or may not have reached Okta: ask again (a second restart is harmless).
    return step(state, { kind: 'restart', link: state.factor.activateLink }, true);
  }
  if (!state.userId) {
    if (ctx.input.userId) return claimStep({ ...state, userId: ctx.input.userId }, ctx);
    if (ctx.input.login) return step(state, { kind: 'lookup-user', login: ctx.input.login });
    return finalize(state, ctx, 'failed', { errorCode: 'INVALID_INPUT', errorSummary: 'the row names no user' });
  }
  return claimStep(state, ctx);
}

function claimStep(state: RowState, ctx: RowContext): Decision {
  return step(state, { kind: 'claim', userId: state.userId!, byLogin: !ctx.input.userId });
}

function afterClaim(state: RowState, ctx: RowContext, r: ClaimResult): Decision {
  if (r === 'wait') return terminal(state, { kind: 'wait', until: ctx.now + CLAIM_WAIT_MS, reason: 'claim' });
  if (typeof r === 'object' && 'duplicateOf' in r) {
    return finalize(state, ctx, 'failed', { errorCode: 'DUPLICATE_ROW', errorSummary: `same user and factorType as row ${r.duplicateOf}` });
  }
  if (typeof r === 'object' && 'heldBy' in r) {
    const since = state.hold?.kind === 'elsewhere' ? state.hold.since : ctx.now;
    if (ctx.now - since >= ctx.settings.claimWaitMs) {
      return finalize(state, ctx, 'failed', {
        errorCode: 'IN_FLIGHT_ELSEWHERE',
        errorSummary: `run ${r.heldBy} is working on this user and factor type (waited ${Math.round((ctx.now - since) / 60_000)} min); re-enroll once it has finished`,
      });
    }
    return terminal({ ...state, hold: { kind: 'elsewhere', since, holder: r.heldBy } }, { kind: 'wait', until: ctx.now + ELSEWHERE_RECHECK_MS, reason: 'elsewhere' });
  }
  // Another run held this user and factor type while this row waited: its enrollment may exist now.
  let s: RowState = state.hold?.kind === 'elsewhere' ? { ...dropHold(state), mustLook: true } : state;
  if (r === 'took-over') s = { ...addNote(s, 'another run held this user before'), mustLook: true };
  return afterClaimed(s, ctx);
}

function dropHold(state: RowState): RowState {
  const { hold: _hold, ...rest } = state;
  return rest;
}

/** Whether an earlier try may have reached Okta: then the user's factors are listed before any enrollment. */
function uncertain(state: RowState, ctx: RowContext): boolean {
  return state.phase === 'enrolling' || Boolean(state.mustLook) || ctx.job.attemptsMade > 0 || state.requeues > 0 || ctx.run.recovering || Boolean(ctx.run.rerunOf);
}

function afterClaimed(state: RowState, ctx: RowContext): Decision {
  if (ctx.notBefore !== undefined && ctx.now < ctx.notBefore) return terminal(state, { kind: 'wait', until: ctx.notBefore, reason: 'window' });
  if (ctx.settings.revisit) {
    if (ctx.settings.maxActivations) return step(state, { kind: 'read-cap' });
    return step(state, { kind: 'list-factors', purpose: 'revisit' });
  }
  if (uncertain(state, ctx)) return step(state, { kind: 'list-factors', purpose: 'look-first' });
  return chargeEnroll(state, ctx);
}

function chargeEnroll(state: RowState, _ctx: RowContext): Decision {
  return step(state, { kind: 'charge', token: `e${state.attempts + 1}`, purpose: 'enroll' });
}

// ---- listings ----

function ofType(factors: readonly FactorView[], factorType: string): FactorView[] {
  const wanted = factorType.toLowerCase();
  return factors.filter((f) => f.factorType.toLowerCase() === wanted);
}

function isPending(f: FactorView): boolean {
  return f.state === 'waiting' || f.state === 'expired';
}

function afterListing(listedBy: RowState, ctx: RowContext, purpose: ListPurpose, factors: FactorView[]): Decision {
  const state: RowState = { ...listedBy, looked: true };
  const mine = ofType(factors, ctx.settings.factorType);
  const pending = mine.filter(isPending);
  if (purpose === 'race-check' || (purpose === 'look-first' && state.phase === 'enrolling')) {
    if (pending.length >= 2) {
      const ids = pending.map((f) => f.factorId);
      return finalize({ ...state, ...(state.factor ? {} : { factor: refOf(pending[0]!) }) }, ctx, 'failed', {
        errorCode: 'DUPLICATE_FACTOR',
        errorSummary: `the user holds ${pending.length} pending ${ctx.settings.factorType} factors (${ids.join(', ')}): two enrollments raced; keep one and delete the other in the Admin Console (nothing was deleted automatically)`,
      });
    }
  }
  if (purpose === 'race-check') {
    // No twin: carry on with the factor this row holds (unless the job lost its lock: then the new owner does).
    if (state.phase === 'waiting' && state.activation) return deliverOrFollow({ ...state, raceCheck: false }, ctx);
    return terminal(state, { kind: 'abandon', reason: 'the job lost its lock; no duplicate factor found' });
  }
  const match =
    mine.find((f) => f.state === 'activated') ?? mine.find((f) => f.state === 'waiting') ?? mine.find((f) => f.state === 'expired') ?? mine[0];
  if (!match) {
    if (purpose === 'after-refusal') return step(state, { kind: 'note-policy-refusal' });
    let s = state;
    if (purpose === 'revisit') s = addNote(s, 'no factor of this type: enrolled');
    // A look that found nothing although an earlier try may have reached Okta: list once more after enrolling.
    if (purpose === 'look-first' && (state.phase === 'enrolling' || ctx.job.attemptsMade > 0 || state.requeues > 0)) s = { ...s, raceCheck: true };
    return chargeEnroll({ ...s, mustLook: false }, ctx);
  }
  return adopt(state, ctx, purpose, match);
}

/** A link to `…/lifecycle/activate` itself: a POST that may restart the activation, never a poll. */
export function isActivateHref(href: string): boolean {
  const path = href.split(/[?#]/)[0]!.replace(/\/+$/, '');
  return path.endsWith('/lifecycle/activate');
}

function refOf(view: FactorView, previous?: FactorRef): FactorRef {
  const ref: FactorRef = { id: view.factorId, status: view.status || previous?.status || '' };
  const created = view.created ?? (previous?.id === view.factorId ? previous.created : undefined);
  if (created) ref.created = created;
  const pollIsActivate = Boolean(view.links.poll && (view.pollIsActivate || isActivateHref(view.links.poll.href)));
  const poll = view.links.poll && !pollIsActivate ? view.links.poll : previous?.id === view.factorId ? previous.pollLink : undefined;
  if (poll) ref.pollLink = poll;
  const activate = view.links.activate ?? (pollIsActivate ? view.links.poll : undefined) ?? (previous?.id === view.factorId ? previous.activateLink : undefined);
  if (activate) ref.activateLink = { href: activate.href, method: 'POST' };
  return ref;
}

function adoptionNote(state: RowState, ctx: RowContext, purpose: ListPurpose, active: boolean): string | undefined {
  if (purpose === 'revisit') return active ? 'already active' : undefined;
  if (purpose === 'after-refusal') return active ? 'already active' : 'already enrolled before this run';
  if (state.phase === 'enrolling' || state.requeues > 0 || ctx.job.attemptsMade > 0) return active ? 'adopted after an interrupted try: already active' : 'adopted after an interrupted try';
  if (ctx.run.rerunOf) return active ? `enrolled by an earlier run of this file (${ctx.run.rerunOf}): already active` : `enrolled by an earlier run of this file (${ctx.run.rerunOf})`;
  return active ? 'already active' : 'adopted an existing factor';
}

function deliveryOwed(ctx: RowContext): boolean {
  return ctx.settings.deliver !== 'none' && ctx.settings.factorType === 'push';
}

function adopt(state: RowState, ctx: RowContext, purpose: ListPurpose, match: FactorView): Decision {
  const active = match.state === 'activated';
  const note = adoptionNote(state, ctx, purpose, active);
  let s: RowState = { ...state, factor: refOf(match, state.factor), mustLook: false };
  // Our own interrupted enrollment reached Okta: that activation was created for this row.
  if (state.phase === 'enrolling') s = { ...s, attempts: s.attempts + 1 };
  if (note) s = addNote(s, note);
  if (active) return finalize(s, ctx, 'activated');
  if (match.state !== 'waiting' && match.state !== 'expired') {
    return finalize(s, ctx, 'failed', { errorCode: 'UNEXPECTED_STATUS', errorSummary: `factor status ${match.status || 'unknown'}` });
  }
  const activateLink = s.factor!.activateLink;
  const now = ctx.now;
  const listedExpiry = expiryOf(match);
  const known = listedExpiry !== undefined;
  const createdMs = match.created ? Date.parse(match.created) : NaN;
  const assumedExpiry = known ? listedExpiry : (Number.isFinite(createdMs) ? createdMs : now) + ctx.settings.activationTimeoutMs;
  const expired = match.state === 'expired' || assumedExpiry <= now;
  const ownActivationDelivered = state.delivery === 'sent' && state.factor?.id === match.factorId;

  // A revisit restarts what is not active; a run restarts an expired activation once, and
  // restarts a pending one whose link never reached the user (the answer with its send links was lost).
  const wantsRestart = ctx.settings.revisit || (expired && s.restarts < 1) || (!expired && deliveryOwed(ctx) && !ownActivationDelivered && s.restarts < 1);
  if (wantsRestart && activateLink) {
    if (!expired && !ctx.settings.revisit) s = addNote(s, 'activation restarted to send its link');
    return restartStep(s, ctx);
  }
  if (expired) return finalize(s, ctx, 'expired', activateLink ? {} : { note: 'no activate link to restart it' });
  s = {
    ...s,
    phase: 'waiting',
    activation: { startedAt: now, expiresAt: assumedExpiry, expiresKnown: known, polls: 0, delivered: ownActivationDelivered || !deliveryOwed(ctx) },
  };
  if (!s.activation!.delivered) s = { ...s, delivery: 'failed:NO_SEND_LINK', activation: { ...s.activation!, delivered: true } };
  else if (!ownActivationDelivered) s = { ...s, delivery: s.delivery ?? 'none' };
  return follow(s, ctx, true);
}

// ---- activations ----

function restartStep(state: RowState, _ctx: RowContext): Decision {
  if (state.restartCharged) return step({ ...state, phase: 'restarting' }, { kind: 'restart', link: state.factor!.activateLink! }, true);
  return step(state, { kind: 'charge', token: `r${state.restarts + 1}`, purpose: 'restart' });
}

function afterCharge(state: RowState, ctx: RowContext, purpose: ChargePurpose, allowed: boolean, count: number): Decision {
  if (purpose === 'observed') return deliverOrFollow(state, ctx);
  if (!allowed) {
    const cap = ctx.settings.maxActivations ?? count;
    return finalize(state, ctx, 'failed', { errorCode: 'MAX_ATTEMPTS', errorSummary: maxAttemptsSummary(count, cap) });
  }
  if (purpose === 'enroll' && count > 1 && !state.looked) {
    // The ledger has an earlier activation for this user and factor type (another run, an earlier
    // night): never rely on Okta to refuse a second enrollment, look first. The charge is kept.
    return step(state, { kind: 'list-factors', purpose: 'look-first' });
  }
  if (purpose === 'restart') {
    // Counted before it is asked for; a retried job restarts again without a second charge.
    return step({ ...state, phase: 'restarting', restartCharged: true }, { kind: 'restart', link: state.factor!.activateLink! }, true);
  }
  return step({ ...state, phase: 'enrolling' }, { kind: 'enroll' }, true);
}

/** When the answer says the activation expires (local clock), if it says. */
export function expiryOf(view: FactorView): number | undefined {
  if (view.expiresAtMs !== undefined && Number.isFinite(view.expiresAtMs)) return view.expiresAtMs;
  const t = view.expiresAt ? Date.parse(view.expiresAt) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

function newActivation(view: FactorView, ctx: RowContext) {
  const exp = expiryOf(view);
  const known = exp !== undefined;
  return {
    startedAt: ctx.now,
    expiresAt: known ? exp : ctx.now + ctx.settings.activationTimeoutMs,
    expiresKnown: known,
    polls: 0,
    delivered: false,
  };
}

function afterEnroll(state: RowState, ctx: RowContext, view: FactorView): Decision {
  let s: RowState = { ...state, factor: refOf(view, state.factor), attempts: state.attempts + 1, mustLook: false };
  s = dropTrouble(s.hold?.kind === 'provisioning' ? dropHold(s) : s);
  switch (view.state) {
    case 'activated':
      return finalize({ ...s, phase: 'waiting' }, ctx, 'activated');
    case 'waiting':
      s = { ...s, phase: 'waiting', activation: newActivation(view, ctx) };
      if (s.raceCheck) return step(s, { kind: 'list-factors', purpose: 'race-check' }, true);
      return deliverOrFollow(s, ctx);
    case 'expired':
      return finalize({ ...s, phase: 'waiting' }, ctx, 'expired');
    default:
      return finalize({ ...s, phase: 'waiting' }, ctx, 'failed', resultFailure(view));
  }
}

function afterRestart(state: RowState, ctx: RowContext, view: FactorView): Decision {
  let s: RowState = {
    ...state,
    factor: refOf(view, state.factor),
    attempts: state.attempts + 1,
    restarts: state.restarts + 1,
    restartCharged: false,
    phase: 'waiting',
  };
  s = dropTrouble(s);
  switch (view.state) {
    case 'activated':
      // The user had scanned meanwhile: Okta restarted nothing, so no attempt is counted.
      return finalize({ ...s, attempts: state.attempts, restarts: state.restarts }, ctx, 'activated');
    case 'waiting':
      return deliverOrFollow({ ...addNote(s, 'expired activation restarted'), activation: newActivation(view, ctx) }, ctx);
    case 'expired':
      return finalize({ ...s, activation: newActivation(view, ctx) }, ctx, 'expired');
    default:
      return finalize(s, ctx, 'failed', resultFailure(view));
  }
}

function resultFailure(view: FactorView): OutcomeDetails {
  if (view.state === 'cancelled') return { errorCode: 'ACTIVATION_CANCELLED', errorSummary: 'the activation was cancelled (factorResult CANCELLED)', status: view.factorResult ?? view.status };
  if (view.state === 'error') return { errorCode: 'ACTIVATION_ERROR', errorSummary: 'Okta reported an error for the activation (factorResult ERROR)', status: view.factorResult ?? view.status };
  return { errorCode: 'UNEXPECTED_STATUS', errorSummary: `factor status ${view.status || 'unknown'}` };
}

function deliverOrFollow(state: RowState, ctx: RowContext): Decision {
  const a = state.activation!;
  if (!a.delivered) {
    if (deliveryOwed(ctx)) return step(state, { kind: 'deliver' }, true);
    return follow({ ...state, delivery: 'none', activation: { ...a, delivered: true } }, ctx, true);
  }
  return follow(state, ctx, true);
}

// ---- waiting for the user ----

/** The link that reads the activation without side effects: the poll link, else the factor itself. */
export function readLinkOf(state: RowState): SafeLink {
  const f = state.factor!;
  if (f.pollLink) return f.pollLink;
  return { href: `/api/v1/users/${encodeURIComponent(state.userId!)}/factors/${encodeURIComponent(f.id)}`, method: 'GET' };
}

function readStep(state: RowState): Decision {
  return step(state, { kind: 'read-factor', link: readLinkOf(state) });
}

function follow(state: RowState, ctx: RowContext, persist = true): Decision {
  const a = state.activation!;
  const now = ctx.now;
  const watch = ctx.run.logDetects && ctx.settings.factorType === 'push';
  if (watch && a.expiresKnown && now < a.expiresAt) {
    // The System Log watcher reports activations; one poll just after expiry confirms what it did not show.
    return { state, step: { kind: 'follow', at: a.expiresAt + graceAfterExpiry(Math.max(1, a.expiresAt - a.startedAt)), watch: true }, persist };
  }
  const plan = nextPoll({ settings: ctx.settings, polls: a.polls, startedAt: a.startedAt, expiresAt: a.expiresAt, now });
  if (plan.kind === 'give-up') {
    return finalize(state, ctx, 'expired', { note: a.expiresKnown ? 'still pending after its activation expired' : 'still pending after the assumed activation window (Okta gave no expiry)' });
  }
  return { state, step: { kind: 'follow', at: plan.at, watch }, persist };
}

function afterRead(state: RowState, ctx: RowContext, view: FactorView): Decision {
  const a = state.activation!;
  let s: RowState = dropTrouble({ ...state, factor: refOf(view, state.factor), activation: { ...a, polls: a.polls + 1 } });
  switch (view.state) {
    case 'activated':
      return finalize(s, ctx, 'activated');
    case 'expired':
      return finalize(s, ctx, 'expired');
    case 'cancelled':
    case 'error':
      return finalize(s, ctx, 'failed', resultFailure(view));
    case 'waiting': {
      const exp = expiryOf(view);
      if (exp !== undefined) {
        if (a.expiresKnown && a.expiresAt < ctx.now && exp > a.expiresAt + 1000) {
          // Okta restarted the activation after this one expired: that is an activation for the row (counted,
          // delivered). Followed once; a second one is not, so no row can loop on restarts.
          if (state.restarts >= (ctx.settings.revisit ? 2 : 1)) return finalize(s, ctx, 'expired', { note: 'Okta restarted the activation again after it expired; not followed' });
          s = addNote(
            { ...s, attempts: s.attempts + 1, restarts: s.restarts + 1, activation: { startedAt: ctx.now, expiresAt: exp, expiresKnown: true, polls: 0, delivered: false } },
            'Okta restarted the expired activation',
          );
          return step(s, { kind: 'charge', token: `o${s.restarts}`, purpose: 'observed' }, true);
        } else if (!a.expiresKnown || Math.abs(exp - a.expiresAt) > 1000) {
          s = { ...s, activation: { ...s.activation!, expiresAt: exp, expiresKnown: true } };
        }
      }
      return follow(s, ctx);
    }
    default:
      return finalize(s, ctx, 'failed', resultFailure(view));
  }
}

function afterLogEvidence(state: RowState, ctx: RowContext, evidence: Evidence): Decision {
  if (state.phase !== 'waiting' || !state.factor || !state.activation) return terminal(state, { kind: 'abandon', reason: 'the row holds no pending activation' });
  switch (evidence) {
    case 'ours':
      return finalize(state, ctx, 'activated', { status: ctx.run.activeStatus, note: 'activation seen in the System Log' });
    case 'unreadable':
      // A success that names no factor the runner can read: one poll now confirms instead of trusting it.
      return { state, step: { kind: 'follow', at: ctx.now, watch: true }, persist: false };
    default:
      return terminal(state, { kind: 'abandon', reason: 'the event is about another factor' });
  }
}

// ---- refusals ----

function afterRefusalVerdict(state: RowState, ctx: RowContext, verdict: RefusalVerdict): Decision {
  const summary = state.hold?.kind === 'refused' ? state.hold.summary : '';
  switch (verdict) {
    case 'accepted':
      return finalize(dropHold(state), ctx, 'failed', { errorCode: 'E0000006', errorSummary: `${NO_PERMISSION_SUMMARY}${summary ? ` (Okta: ${summary})` : ''}` });
    case 'refused-everywhere':
      return terminal(state, {
        kind: 'stop-run',
        reason:
          "Okta refused the factor changes for every user tried so far (403 E0000006) and accepted none: the admin behind the credentials lacks a role allowed to manage users' factors (Super Administrator or Organization Administrator, a Help Desk administrator for the users' groups, or a custom role with the user and factor permissions; an OAuth service app needs the role on its Admin roles tab). Grant it, then resume the run.",
      });
    case 'undecided': {
      const since = state.hold?.kind === 'refused' ? state.hold.since : ctx.now;
      return terminal({ ...state, hold: { kind: 'refused', since, summary } }, { kind: 'wait', until: ctx.now + REFUSAL_RECHECK_MS, reason: 'refused' });
    }
    case 'not-recorded':
      // The run was resumed since (maybe a role was granted): try again.
      return claimStep(dropHold(state), ctx);
  }
}

// ---- trouble ----

function dropTrouble(state: RowState): RowState {
  if (!state.trouble) return state;
  const { trouble: _t, ...rest } = state;
  return rest;
}

function noteTrouble(state: RowState, ctx: RowContext): RowState {
  const t = state.trouble ?? { since: ctx.now, tries: 0 };
  return { ...state, trouble: { since: t.since, tries: t.tries + 1 } };
}

function troubleExpired(state: RowState, ctx: RowContext): boolean {
  return Boolean(state.trouble && ctx.now - state.trouble.since >= ctx.settings.rowRetryWindowMs);
}

function createsActivation(during: Step['kind']): boolean {
  return during === 'enroll' || during === 'restart';
}

function afterTrouble(state: RowState, ctx: RowContext, during: Step['kind'], t: Trouble): Decision {
  if (during === 'list-factors' && state.raceCheck && t.kind !== 'credentials') {
    // The race check is a last line of defence: when it cannot be made, the row goes on with its factor.
    if (state.phase === 'waiting' && state.activation) return deliverOrFollow({ ...state, raceCheck: false }, ctx);
  }
  // An enroll that may have reached Okta leaves the row uncertain (phase enrolling: the next try lists first);
  // one that surely did not (a refusal, a rate limit) sends the row back to the start. A restart that was
  // counted stays `restarting`: the next try restarts again, without a second charge.
  const calm = (s: RowState): RowState => (during === 'enroll' && s.phase === 'enrolling' ? { ...s, phase: 'start' } : s);
  switch (t.kind) {
    case 'aborted':
      if (t.maybeProcessed && createsActivation(during)) return decide(state, ctx, { step: 'lock-lost', sent: true });
      return terminal(state, { kind: 'abandon', reason: 'the request was dropped (the job lost its lock)' });
    case 'credentials':
      return terminal(state, { kind: 'stop-process', reason: `Okta rejected the credentials (${t.code}: ${t.summary}). Check OKTA_API_TOKEN / --token-file (or the OAuth client id, key and scopes) and --org-url.` });
    case 'scope':
      return terminal(state, { kind: 'stop-run', reason: `Okta refused the request (${t.code}: ${t.summary}). Grant the missing scope to the service app, then resume the run.` });
    case 'bucket-wait':
      return terminal(calm(state), { kind: 'wait', until: ctx.now + t.waitMs, reason: 'rate-limit' });
    case 'read-only':
      return terminal(calm(state), { kind: 'wait', until: ctx.now + READ_ONLY_WAIT_MS, reason: 'read-only' });
    case 'resource-wait': {
      const s = noteTrouble(calm(state), ctx);
      if (troubleExpired(s, ctx)) return failAfterTrouble(s, ctx, t.code, t.summary);
      return terminal(s, { kind: 'wait', until: ctx.now + t.waitMs, reason: 'resource' });
    }
    case 'transient': {
      let s = noteTrouble(state, ctx);
      if (!t.maybeProcessed) s = calm(s);
      if (troubleExpired(s, ctx) || ctx.job.attemptsMade + 1 >= ctx.job.maxAttempts) return failAfterTrouble(s, ctx, t.code, t.summary);
      return terminal(s, { kind: 'retry', summary: t.summary });
    }
    case 'no-permission':
      return step({ ...calm(state), hold: { kind: 'refused', since: ctx.now, summary: t.summary } }, { kind: 'note-refusal', summary: t.summary });
    case 'user-status':
      return step(calm(state), { kind: 'read-user-status' });
    case 'provisioning': {
      const prev = state.hold?.kind === 'provisioning' ? state.hold : { kind: 'provisioning' as const, since: ctx.now, tries: 0 };
      const s: RowState = { ...calm(state), hold: { kind: 'provisioning', since: prev.since, tries: prev.tries + 1 } };
      if (ctx.now - prev.since >= ctx.settings.provisioningWaitMs) {
        return finalize(dropHold(s), ctx, 'failed', {
          errorCode: 'E0000112',
          errorSummary: `Okta still reports the user as being activated after ${Math.round((ctx.now - prev.since) / 60_000)} min (${prev.tries + 1} tries): ${t.summary}`,
        });
      }
      // From a minute (a thirtieth of a shorter deadline), doubling, at most 5 minutes.
      const first = Math.max(100, Math.min(60_000, Math.round(ctx.settings.provisioningWaitMs / 30)));
      const backoff = Math.min(5 * 60_000, first * 2 ** Math.min(12, prev.tries));
      return terminal(s, { kind: 'wait', until: ctx.now + backoff, reason: 'provisioning' });
    }
    case 'validation':
      if (during === 'enroll') return step({ ...calm(state), refusalSummary: t.summary }, { kind: 'list-factors', purpose: 'after-refusal' });
      return finalize(calm(state), ctx, 'failed', { errorCode: t.code, errorSummary: t.summary });
    case 'row-error':
      return finalize(calm(state), ctx, 'failed', { errorCode: t.code, errorSummary: t.summary });
  }
}

function failAfterTrouble(state: RowState, ctx: RowContext, code: string, summary: string): Decision {
  const tries = state.trouble?.tries ?? ctx.job.attemptsMade + 1;
  const minutes = state.trouble ? Math.round((ctx.now - state.trouble.since) / 60_000) : 0;
  return finalize(state, ctx, 'failed', { errorCode: code, errorSummary: `${summary} (after ${tries} tries${minutes ? ` over ${minutes} min` : ''})` });
}
