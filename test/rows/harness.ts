/**
 * A pure, in-memory stand-in for everything around the row lifecycle (no Redis, no HTTP):
 * an Okta that keeps one user's factors and can fail in every way the client reports,
 * and a job loop that runs decide() the way jobs/drive.ts does: steps carried out,
 * state persisted only when the decision says so (a crash loses the rest), terminal
 * steps ending the job. Property tests drive it with random faults and check the
 * lifecycle's promises.
 */
import type { FactorView } from '../../src/okta/types.js';
import { decide, TERMINAL, type RefusalVerdict, type RowContext, type RowSettings, type Step, type StepResult } from '../../src/rows/lifecycle.js';
import type { RowOutcome } from '../../src/rows/outcome.js';
import { newRowState, type RowState } from '../../src/rows/state.js';
import type { Trouble } from '../../src/rows/trouble.js';

export const USER = '00uharness0000000001';
export const WINDOW_MS = 600_000;

export interface SimFactor {
  id: string;
  factorType: string;
  status: 'PENDING_ACTIVATION' | 'ACTIVE' | 'EXPIRED';
  expiresAt: number;
  created: number;
}

/** What goes wrong on a call, chosen by the test for each call in order. */
export type Fault =
  | 'none'
  | 'lost-answer' // processed, then the connection dropped (maybeProcessed)
  | 'not-sent' // refused before reaching Okta
  | '5xx-unprocessed'
  | 'bucket-429'
  | 'resource-429'
  | 'read-only'
  | 'crash-after' // processed and answered, then the worker died before the next step
  | 'lock-lost';

export interface HarnessOptions {
  settings?: Partial<RowSettings>;
  /** Faults per call, consumed in order; missing: none. */
  faults?: Fault[];
  /** The user scans this long after an activation starts (undefined: never). */
  scanAfterMs?: number;
  /** Factors the user already has. */
  existing?: SimFactor[];
  /** Listings show pending factors without expiresAt (today's spec). */
  listWithoutExpiry?: boolean;
  /** Restart answers are the activation object alone. */
  restartShape?: 'factor' | 'activation';
  maxJobs?: number;
  /** The answer to note-refusal / check-refusals. */
  refusal?: RefusalVerdict;
  /** Okta answers every enroll with this error (e.g. E0000006). */
  enrollError?: Trouble;
}

export interface HarnessResult {
  outcome?: RowOutcome;
  finalizes: number;
  stopped?: string;
  jobs: number;
  /** Every call made to Okta, in order. */
  calls: string[];
  /** Activations Okta created for the user (enrollments and restarts it processed). */
  created: number;
  /** Activations whose answer reached the lifecycle. */
  answered: number;
  /** Deliveries made. */
  deliveries: number;
  factors: SimFactor[];
  /** An enroll sent while an earlier one may have been processed, with no listing in between. */
  blindReenroll: boolean;
  /** The last state persisted. */
  stored: RowState;
}

const baseSettings: RowSettings = {
  factorType: 'push',
  revisit: false,
  deliver: 'email',
  activationTimeoutMs: WINDOW_MS + 60_000,
  pollInitialMs: null,
  pollFactor: 2,
  pollMaxMs: null,
  rowRetryWindowMs: 30 * 60_000,
  provisioningWaitMs: 30 * 60_000,
  claimWaitMs: 15 * 60_000,
};

export function runHarness(opts: HarnessOptions = {}): HarnessResult {
  const settings = { ...baseSettings, ...opts.settings };
  const faults = [...(opts.faults ?? [])];
  let now = 1_700_000_000_000;
  let seq = 0;
  const factors: SimFactor[] = (opts.existing ?? []).map((f) => ({ ...f }));
  const res: HarnessResult = { finalizes: 0, jobs: 0, calls: [], created: 0, answered: 0, deliveries: 0, factors, blindReenroll: false, stored: newRowState() };
  let stored = newRowState();
  let ledger = 0;
  let maybeProcessedEnroll = false;
  let jobKind: 'enroll' | 'poll' = 'enroll';
  let attemptsMade = 0;
  let pendingJobAt = now;

  const tick = (at: number) => {
    now = Math.max(now, at);
    for (const f of factors) {
      if (f.status === 'PENDING_ACTIVATION' && opts.scanAfterMs !== undefined && now >= f.expiresAt - WINDOW_MS + opts.scanAfterMs && now < f.expiresAt) f.status = 'ACTIVE';
      if (f.status === 'PENDING_ACTIVATION' && now >= f.expiresAt) f.status = 'EXPIRED';
    }
  };

  const viewOf = (f: SimFactor, shape: 'factor' | 'activation' = 'factor', listing = false): FactorView => {
    const base = `/api/v1/users/${USER}/factors/${f.id}`;
    const view: FactorView = {
      factorId: f.id,
      userId: USER,
      factorType: f.factorType,
      provider: 'OKTA',
      status: f.status === 'EXPIRED' && listing && opts.listWithoutExpiry ? 'PENDING_ACTIVATION' : f.status,
      state: f.status === 'ACTIVE' ? 'activated' : f.status === 'EXPIRED' && !(listing && opts.listWithoutExpiry) ? 'expired' : 'waiting',
      links: { activate: { href: `${base}/lifecycle/activate`, method: 'POST' } },
      shape,
      created: new Date(f.created).toISOString(),
    };
    if (!listing || !opts.listWithoutExpiry) {
      view.links.poll = { href: `${base}/lifecycle/activate/poll`, method: 'POST' };
      if (f.status !== 'ACTIVE') {
        view.expiresAt = new Date(f.expiresAt).toISOString();
        view.expiresAtMs = f.expiresAt;
      }
    }
    if (!listing && f.status === 'PENDING_ACTIVATION') view.secrets = { send: [{ name: 'email', href: `${base}/lifecycle/activate/email`, method: 'POST' }] };
    return view;
  };

  const fault = (): Fault => faults.shift() ?? 'none';
  const troubleOf = (f: Fault): Trouble | undefined => {
    switch (f) {
      case 'lost-answer':
        return { kind: 'transient', code: 'NETWORK_ERROR', summary: 'socket closed', maybeProcessed: true };
      case 'not-sent':
        return { kind: 'transient', code: 'NETWORK_ERROR', summary: 'connection refused', maybeProcessed: false };
      case '5xx-unprocessed':
        return { kind: 'transient', code: 'E0000009', summary: 'Internal Server Error', maybeProcessed: true };
      case 'bucket-429':
        return { kind: 'bucket-wait', waitMs: 1000, code: 'E0000047', summary: 'rate limit' };
      case 'resource-429':
        return { kind: 'resource-wait', waitMs: 1000, code: 'E0000047', summary: 'too many activations' };
      case 'read-only':
        return { kind: 'read-only', code: 'E0000010', summary: 'read only' };
      default:
        return undefined;
    }
  };

  /** One Okta call: `act` makes the change (if the request is processed), `answer` builds the result. */
  const call = (kind: Step['kind'], name: string, act: () => void, answer: () => StepResult, processedOnLoss = true): StepResult | 'crash' => {
    res.calls.push(name);
    const f = fault();
    if (f === 'crash-after') {
      act();
      return 'crash';
    }
    if (f === 'lost-answer') {
      if (processedOnLoss) act();
      return { step: 'error', during: kind, trouble: troubleOf(f)! };
    }
    const t = troubleOf(f);
    if (t) return { step: 'error', during: kind, trouble: t };
    act();
    return answer();
  };

  const createActivation = (existing?: SimFactor): SimFactor => {
    res.created++;
    if (existing) {
      existing.status = 'PENDING_ACTIVATION';
      existing.expiresAt = now + WINDOW_MS;
      return existing;
    }
    const f: SimFactor = { id: `opf${++seq}`, factorType: settings.factorType, status: 'PENDING_ACTIVATION', expiresAt: now + WINDOW_MS, created: now };
    factors.push(f);
    return f;
  };

  const perform = (s: Step, state: RowState): StepResult | 'crash' => {
    switch (s.kind) {
      case 'lookup-user':
        return { step: 'lookup-user', user: { id: USER } };
      case 'claim':
        return { step: 'claim', result: 'ok' };
      case 'read-cap':
        return { step: 'read-cap', count: ledger, ownLast: false };
      case 'charge': {
        const cap = settings.maxActivations;
        if (cap && ledger >= cap) return { step: 'charge', purpose: s.purpose, allowed: false, count: ledger };
        ledger++;
        return { step: 'charge', purpose: s.purpose, allowed: true, count: ledger };
      }
      case 'list-factors':
        maybeProcessedEnroll = false;
        return call(s.kind, 'list', () => undefined, () => ({ step: 'list-factors', purpose: s.purpose, factors: factors.map((f) => viewOf(f, 'factor', true)) }));
      case 'enroll': {
        if (maybeProcessedEnroll) res.blindReenroll = true;
        if (opts.enrollError) {
          res.calls.push('enroll');
          return { step: 'error', during: 'enroll', trouble: opts.enrollError };
        }
        let made: SimFactor | undefined;
        const f0 = faults[0];
        if (f0 === 'lock-lost') {
          faults.shift();
          res.calls.push('enroll');
          return { step: 'lock-lost', sent: false };
        }
        const r = call(
          s.kind,
          'enroll',
          () => {
            made = createActivation();
          },
          () => {
            res.answered++;
            return { step: 'enroll', view: viewOf(made!) };
          },
        );
        if (r !== 'crash' && r.step === 'error' && r.trouble.kind === 'transient' && r.trouble.maybeProcessed) maybeProcessedEnroll = true;
        if (r === 'crash') maybeProcessedEnroll = true;
        return r;
      }
      case 'restart': {
        const f = factors.find((x) => s.link.href.includes(`/factors/${x.id}/`));
        let made: SimFactor | undefined;
        return call(
          s.kind,
          'restart',
          () => {
            if (f && f.status !== 'ACTIVE') made = createActivation(f);
          },
          () => {
            if (!f) return { step: 'error', during: 'restart', trouble: { kind: 'row-error', code: 'E0000007', summary: 'Not found' } };
            if (!made) return { step: 'restart', view: viewOf(f) };
            res.answered++;
            const v = viewOf(made, opts.restartShape ?? 'factor');
            if (opts.restartShape === 'activation') {
              v.pollIsActivate = true;
              v.links = { poll: { href: `/api/v1/users/${USER}/factors/${made.id}/lifecycle/activate`, method: 'POST' } };
            }
            return { step: 'restart', view: v };
          },
        );
      }
      case 'deliver':
        res.deliveries++;
        res.calls.push('send');
        return { step: 'deliver', delivery: 'sent' };
      case 'read-factor': {
        const f = factors.find((x) => x.id === state.factor?.id);
        return call(s.kind, 'poll', () => undefined, () =>
          f ? { step: 'read-factor', view: { ...viewOf(f), secrets: undefined } } : { step: 'error', during: 'read-factor', trouble: { kind: 'row-error', code: 'E0000007', summary: 'Not found' } },
        );
      }
      case 'read-user-status':
        return { step: 'read-user-status', status: 'SUSPENDED' };
      case 'note-refusal':
      case 'check-refusals':
        return { step: s.kind, verdict: opts.refusal ?? 'accepted' };
      case 'note-policy-refusal':
        return { step: 'note-policy-refusal', count: 1 };
      default:
        throw new Error(`not a step: ${s.kind}`);
    }
  };

  const maxJobs = opts.maxJobs ?? 200;
  while (res.jobs < maxJobs && !res.outcome && !res.stopped) {
    res.jobs++;
    tick(pendingJobAt);
    let state = stored;
    let result: StepResult = { step: 'begin' };
    let ended = false;
    for (let n = 0; n < 60 && !ended; n++) {
      const ctx: RowContext = {
        now,
        settings,
        input: { userId: USER },
        job: { kind: jobKind, attemptsMade, maxAttempts: 8 },
        run: { state: 'active', recovering: false, logDetects: false, activeStatus: 'ACTIVE' },
      };
      const d = decide(state, ctx, result);
      state = d.state;
      if (d.persist) stored = state;
      const s = d.step;
      if (!TERMINAL.has(s.kind)) {
        const r = perform(s, state);
        if (r === 'crash') {
          // The worker died: the job comes back as a retry (stalled), with the state last persisted.
          attemptsMade++;
          pendingJobAt = now + 1000;
          ended = true;
          break;
        }
        result = r;
        continue;
      }
      ended = true;
      switch (s.kind) {
        case 'finalize':
          res.finalizes++;
          res.outcome = s.outcome;
          break;
        case 'follow':
          jobKind = 'poll';
          attemptsMade = 0;
          pendingJobAt = s.at;
          break;
        case 'wait':
          pendingJobAt = s.until;
          break;
        case 'retry':
          attemptsMade++;
          pendingJobAt = now + 1000;
          break;
        case 'requeue-enroll':
          jobKind = 'enroll';
          attemptsMade = 0;
          pendingJobAt = now;
          break;
        case 'stop-run':
          if (s.outcome) {
            res.finalizes++;
            res.outcome = s.outcome;
          }
          res.stopped = s.reason;
          break;
        case 'stop-process':
          res.stopped = s.reason;
          break;
        case 'abandon':
          // Another worker has the job now: it runs it again with what was persisted.
          attemptsMade++;
          pendingJobAt = now + 1000;
          break;
      }
    }
  }
  res.stored = stored;
  return res;
}
