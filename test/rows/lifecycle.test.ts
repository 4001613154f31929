/**
 * The row lifecycle (src/rows/lifecycle.ts), pure: no Redis, no HTTP. Example tests for
 * each kind of answer a real org gives, then property tests (fast-check) of its promises
 * over random faults: one outcome, reached in bounded jobs; no enrollment after one that
 * may have reached Okta without a listing first; attempts between what Okta answered and
 * what it created; every activation delivered or the reason in `delivery`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type RowContext, type StepResult } from '../../src/rows/lifecycle.js';
import { newRowState } from '../../src/rows/state.js';
import type { FactorView } from '../../src/okta/types.js';
import { runHarness, USER, WINDOW_MS, type Fault } from './harness.js';

const NOW = 1_700_000_000_000;

function ctx(over: Partial<RowContext> = {}): RowContext {
  return {
    now: NOW,
    settings: {
      factorType: 'push',
      revisit: false,
      deliver: 'email',
      activationTimeoutMs: WINDOW_MS,
      pollInitialMs: null,
      pollFactor: 2,
      pollMaxMs: null,
      rowRetryWindowMs: 1_800_000,
      provisioningWaitMs: 1_800_000,
      claimWaitMs: 900_000,
    },
    input: { userId: USER },
    job: { kind: 'enroll', attemptsMade: 0, maxAttempts: 8 },
    run: { state: 'active', recovering: false, logDetects: false, activeStatus: 'ACTIVE' },
    ...over,
  };
}

function pendingView(id = 'opf1', over: Partial<FactorView> = {}): FactorView {
  return {
    factorId: id,
    userId: USER,
    factorType: 'push',
    provider: 'OKTA',
    status: 'PENDING_ACTIVATION',
    state: 'waiting',
    links: { poll: { href: `/api/v1/users/${USER}/factors/${id}/lifecycle/activate/poll`, method: 'POST' }, activate: { href: `/api/v1/users/${USER}/factors/${id}/lifecycle/activate`, method: 'POST' } },
    expiresAt: new Date(NOW + WINDOW_MS).toISOString(),
    expiresAtMs: NOW + WINDOW_MS,
    created: new Date(NOW).toISOString(),
    ...over,
  };
}

describe('row lifecycle: a first enrollment', () => {
  it('claims, counts the attempt, enrolls, delivers, then follows the activation', () => {
    let d = decide(newRowState(), ctx(), { step: 'begin' });
    expect(d.step).toMatchObject({ kind: 'claim', userId: USER });
    d = decide(d.state, ctx(), { step: 'claim', result: 'ok' });
    expect(d.step).toMatchObject({ kind: 'charge', purpose: 'enroll' });
    d = decide(d.state, ctx(), { step: 'charge', purpose: 'enroll', allowed: true, count: 1 });
    expect(d.step.kind).toBe('enroll');
    expect(d.persist).toBe(true);
    expect(d.state.phase).toBe('enrolling');
    d = decide(d.state, ctx(), { step: 'enroll', view: pendingView() });
    expect(d.step.kind).toBe('deliver');
    expect(d.state.attempts).toBe(1);
    d = decide(d.state, ctx(), { step: 'deliver', delivery: 'sent' });
    expect(d.step).toMatchObject({ kind: 'follow' });
    expect(d.state.delivery).toBe('sent');
  });

  it('a row given by login is looked up first', () => {
    const d = decide(newRowState(), ctx({ input: { login: 'a@example.com' } }), { step: 'begin' });
    expect(d.step).toEqual({ kind: 'lookup-user', login: 'a@example.com' });
    const next = decide(d.state, ctx({ input: { login: 'a@example.com' } }), { step: 'lookup-user', user: { id: USER } });
    expect(next.step).toMatchObject({ kind: 'claim', userId: USER, byLogin: true });
  });

  it('does nothing for a run that is not active', () => {
    for (const state of ['paused', 'stopped', 'cancelled']) {
      expect(decide(newRowState(), ctx({ run: { ...ctx().run, state } }), { step: 'begin' }).step.kind).toBe('abandon');
    }
  });
});

describe('row lifecycle: what real orgs answer', () => {
  const enrolled = () => {
    let d = decide(newRowState(), ctx(), { step: 'begin' });
    d = decide(d.state, ctx(), { step: 'claim', result: 'ok' });
    d = decide(d.state, ctx(), { step: 'charge', purpose: 'enroll', allowed: true, count: 1 });
    return d.state;
  };

  it('E0000006 for a user holds the row until the run knows whether anyone is accepted', () => {
    const s = enrolled();
    const refused = decide(s, ctx(), { step: 'error', during: 'enroll', trouble: { kind: 'no-permission', code: 'E0000006', summary: 'You do not have permission' } });
    expect(refused.step).toMatchObject({ kind: 'note-refusal' });
    expect(refused.state.phase).toBe('start'); // the enroll surely did not happen
    const held = decide(refused.state, ctx(), { step: 'note-refusal', verdict: 'undecided' });
    expect(held.step).toMatchObject({ kind: 'wait', reason: 'refused' });
    const failed = decide(held.state, ctx(), { step: 'check-refusals', verdict: 'accepted' });
    expect(failed.step.kind).toBe('finalize');
    if (failed.step.kind === 'finalize') {
      expect(failed.step.outcome).toMatchObject({ outcome: 'failed', errorCode: 'E0000006' });
      expect(failed.step.outcome.errorSummary).toContain('protected admin');
    }
    const everywhere = decide(held.state, ctx(), { step: 'check-refusals', verdict: 'refused-everywhere' });
    expect(everywhere.step.kind).toBe('stop-run');
  });

  it('E0000038 fails the row with the user status in the reason', () => {
    const d = decide(enrolled(), ctx(), { step: 'error', during: 'enroll', trouble: { kind: 'user-status', code: 'E0000038', summary: 'not allowed' } });
    expect(d.step.kind).toBe('read-user-status');
    const f = decide(d.state, ctx(), { step: 'read-user-status', status: 'SUSPENDED' });
    expect(f.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'E0000038' } });
    if (f.step.kind === 'finalize') expect(f.step.outcome.errorSummary).toContain('SUSPENDED');
  });

  it('E0000112 waits from a minute, growing, and fails after its own deadline, never counting an attempt', () => {
    let s = enrolled();
    let d = decide(s, ctx(), { step: 'error', during: 'enroll', trouble: { kind: 'provisioning', code: 'E0000112', summary: 'still being activated' } });
    expect(d.step).toMatchObject({ kind: 'wait', reason: 'provisioning', until: NOW + 60_000 });
    s = d.state;
    d = decide(s, ctx({ now: NOW + 60_000 }), { step: 'error', during: 'enroll', trouble: { kind: 'provisioning', code: 'E0000112', summary: 'still being activated' } });
    expect(d.step).toMatchObject({ kind: 'wait', until: NOW + 60_000 + 120_000 });
    d = decide(d.state, ctx({ now: NOW + 1_800_000 }), { step: 'error', during: 'enroll', trouble: { kind: 'provisioning', code: 'E0000112', summary: 'still being activated' } });
    expect(d.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'E0000112', attempts: 0 } });
  });

  it('E0000001 with no factor of the type listed is a policy refusal, counted for the run', () => {
    const d = decide(enrolled(), ctx(), { step: 'error', during: 'enroll', trouble: { kind: 'validation', code: 'E0000001', summary: 'Factor not allowed' } });
    expect(d.step).toEqual({ kind: 'list-factors', purpose: 'after-refusal' });
    const n = decide(d.state, ctx(), { step: 'list-factors', purpose: 'after-refusal', factors: [] });
    expect(n.step.kind).toBe('note-policy-refusal');
    const one = decide(n.state, ctx(), { step: 'note-policy-refusal', count: 1 });
    expect(one.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'E0000001' } });
    const tenth = decide(n.state, ctx(), { step: 'note-policy-refusal', count: 10 });
    expect(tenth.step).toMatchObject({ kind: 'stop-run', outcome: { errorCode: 'E0000001' } });
  });

  it('E0000001 with a factor of the type listed adopts it', () => {
    const d = decide(enrolled(), ctx(), { step: 'error', during: 'enroll', trouble: { kind: 'validation', code: 'E0000001', summary: 'already set up' } });
    const a = decide(d.state, ctx(), { step: 'list-factors', purpose: 'after-refusal', factors: [{ ...pendingView(), status: 'ACTIVE', state: 'activated' }] });
    expect(a.step).toMatchObject({ kind: 'finalize', outcome: { outcome: 'activated', note: 'already active' } });
  });

  it('CANCELLED and ERROR results get their own codes', () => {
    let d = decide(enrolled(), ctx(), { step: 'enroll', view: pendingView() });
    d = decide(d.state, ctx(), { step: 'deliver', delivery: 'sent' });
    const c = decide(d.state, ctx({ job: { kind: 'poll', attemptsMade: 0, maxAttempts: 8 } }), { step: 'read-factor', view: pendingView('opf1', { state: 'cancelled', factorResult: 'CANCELLED', status: 'CANCELLED' }) });
    expect(c.step).toMatchObject({ kind: 'finalize', outcome: { outcome: 'failed', errorCode: 'ACTIVATION_CANCELLED', status: 'CANCELLED' } });
    const e = decide(d.state, ctx(), { step: 'read-factor', view: pendingView('opf1', { state: 'error', factorResult: 'ERROR', status: 'ERROR' }) });
    expect(e.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'ACTIVATION_ERROR' } });
  });

  it('a restart answered with the activation object alone is delivered and followed by reading the factor, never through the activate link', () => {
    const revisit = ctx({ settings: { ...ctx().settings, revisit: true } });
    let d = decide(newRowState(), revisit, { step: 'begin' });
    d = decide(d.state, revisit, { step: 'claim', result: 'ok' });
    expect(d.step).toEqual({ kind: 'list-factors', purpose: 'revisit' });
    // Today's spec: a pending push is listed PENDING_ACTIVATION with _links.next {name: activate}, no poll link, no expiry.
    const listed: FactorView = { ...pendingView(), links: { activate: { href: `/api/v1/users/${USER}/factors/opf1/lifecycle/activate`, method: 'POST' } } };
    delete listed.expiresAt;
    delete listed.expiresAtMs;
    d = decide(d.state, revisit, { step: 'list-factors', purpose: 'revisit', factors: [listed] });
    expect(d.step).toMatchObject({ kind: 'charge', purpose: 'restart' });
    d = decide(d.state, revisit, { step: 'charge', purpose: 'restart', allowed: true, count: 2 });
    expect(d.step).toMatchObject({ kind: 'restart' });
    const answer: FactorView = {
      factorId: 'opf1',
      userId: USER,
      factorType: '',
      provider: '',
      status: 'WAITING',
      state: 'waiting',
      factorResult: 'WAITING',
      shape: 'activation',
      pollIsActivate: true,
      expiresAtMs: NOW + WINDOW_MS,
      links: { poll: { href: `/api/v1/users/${USER}/factors/opf1/lifecycle/activate`, method: 'POST' } },
      secrets: { send: [{ name: 'email', href: 'x', method: 'POST' }] },
    };
    d = decide(d.state, revisit, { step: 'restart', view: answer });
    expect(d.step.kind).toBe('deliver');
    expect(d.state.attempts).toBe(1);
    d = decide(d.state, revisit, { step: 'deliver', delivery: 'sent' });
    expect(d.step.kind).toBe('follow');
    const poll = decide(d.state, ctx({ job: { kind: 'poll', attemptsMade: 0, maxAttempts: 8 } }), { step: 'begin' });
    expect(poll.step).toEqual({ kind: 'read-factor', link: { href: `/api/v1/users/${USER}/factors/opf1`, method: 'GET' } });
  });

  it('an event that names another factor never settles the row; one that names no factor brings a poll', () => {
    let d = decide(enrolled(), ctx({ run: { ...ctx().run, logDetects: true } }), { step: 'enroll', view: pendingView() });
    d = decide(d.state, ctx({ run: { ...ctx().run, logDetects: true } }), { step: 'deliver', delivery: 'sent' });
    expect(d.step).toMatchObject({ kind: 'follow', watch: true });
    const other = decide(d.state, ctx(), { step: 'log-evidence', evidence: 'other' });
    expect(other.step.kind).toBe('abandon');
    const unreadable = decide(d.state, ctx(), { step: 'log-evidence', evidence: 'unreadable' });
    expect(unreadable.step).toMatchObject({ kind: 'follow', at: NOW });
    const ours = decide(d.state, ctx({ run: { ...ctx().run, activeStatus: 'ACTIVATED' } }), { step: 'log-evidence', evidence: 'ours' });
    expect(ours.step).toMatchObject({ kind: 'finalize', outcome: { outcome: 'activated', status: 'ACTIVATED', note: 'activation seen in the System Log' } });
  });

  it('a lock lost after an enroll was sent lists the factors and fails the row when two are pending', () => {
    const s = enrolled();
    const d = decide(s, ctx(), { step: 'lock-lost', sent: true });
    expect(d.step).toEqual({ kind: 'list-factors', purpose: 'race-check' });
    expect(d.persist).toBe(false);
    const dup = decide(d.state, ctx(), { step: 'list-factors', purpose: 'race-check', factors: [pendingView('opfA'), pendingView('opfB')] });
    expect(dup.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'DUPLICATE_FACTOR' } });
    if (dup.step.kind === 'finalize') expect(dup.step.outcome.errorSummary).toContain('opfA, opfB');
    const fine = decide(d.state, ctx(), { step: 'list-factors', purpose: 'race-check', factors: [pendingView('opfA')] });
    expect(fine.step.kind).toBe('abandon');
  });

  it('another run holding the user makes the row wait, then fail IN_FLIGHT_ELSEWHERE naming it', () => {
    let d = decide(newRowState(), ctx(), { step: 'begin' });
    d = decide(d.state, ctx(), { step: 'claim', result: { heldBy: 'run-a:7' } });
    expect(d.step).toMatchObject({ kind: 'wait', reason: 'elsewhere' });
    const late = decide(d.state, ctx({ now: NOW + 900_000 }), { step: 'claim', result: { heldBy: 'run-a:7' } });
    expect(late.step).toMatchObject({ kind: 'finalize', outcome: { errorCode: 'IN_FLIGHT_ELSEWHERE' } });
    if (late.step.kind === 'finalize') expect(late.step.outcome.errorSummary).toContain('run-a');
    const taken = decide(d.state, ctx(), { step: 'claim', result: 'took-over' });
    expect(taken.step).toEqual({ kind: 'list-factors', purpose: 'look-first' });
  });
});

describe('row lifecycle: whole rows against an in-memory Okta', () => {
  it('a user who scans ends activated with one attempt and one delivery', () => {
    const r = runHarness({ scanAfterMs: 30_000 });
    expect(r.outcome).toMatchObject({ outcome: 'activated', attempts: 1, delivery: 'sent' });
    expect(r.calls.filter((c) => c === 'enroll')).toHaveLength(1);
  });

  it('a user who never scans ends expired after the activation window', () => {
    const r = runHarness({});
    expect(r.outcome).toMatchObject({ outcome: 'expired', attempts: 1, delivery: 'sent' });
  });

  it('an enroll whose answer was lost is adopted after a listing, and its activation restarted to reach the user', () => {
    const r = runHarness({ faults: ['lost-answer'], scanAfterMs: 10_000 });
    expect(r.calls.slice(0, 3)).toEqual(['enroll', 'list', 'restart']);
    expect(r.factors).toHaveLength(1);
    expect(r.outcome).toMatchObject({ outcome: 'activated', delivery: 'sent' });
    expect(r.outcome?.note).toContain('adopted after an interrupted try');
  });

  it('a worker that dies right after the enroll leaves a row that lists before anything else', () => {
    const r = runHarness({ faults: ['crash-after'], scanAfterMs: 10_000 });
    expect(r.calls.slice(0, 2)).toEqual(['enroll', 'list']);
    expect(r.factors).toHaveLength(1);
    expect(r.outcome?.outcome).toBe('activated');
  });

  it('at the cap, a revisit starts no activation', () => {
    const existing = [{ id: 'opf9', factorType: 'push', status: 'EXPIRED' as const, expiresAt: NOW - 1, created: NOW - 86_400_000 }];
    const r = runHarness({ settings: { revisit: true, maxActivations: 0 }, existing });
    expect(r.outcome).toMatchObject({ outcome: 'expired' }); // cap 0 means no cap: restarted, then expired
    const capped = runHarness({ settings: { revisit: true, maxActivations: 1 }, existing, faults: [] });
    expect(capped.created).toBe(1);
  });

  it('revisits restart an expired push listed as PENDING_ACTIVATION without expiry', () => {
    const existing = [{ id: 'opf9', factorType: 'push', status: 'EXPIRED' as const, expiresAt: NOW - 1, created: NOW - 86_400_000 }];
    const r = runHarness({ settings: { revisit: true }, existing, listWithoutExpiry: true, restartShape: 'activation', scanAfterMs: 20_000 });
    expect(r.calls.slice(0, 3)).toEqual(['list', 'restart', 'send']);
    expect(r.outcome).toMatchObject({ outcome: 'activated', attempts: 1, delivery: 'sent' });
  });

  const faultArb = fc.constantFrom<Fault>('none', 'none', 'none', 'lost-answer', 'not-sent', '5xx-unprocessed', 'bucket-429', 'resource-429', 'read-only', 'crash-after', 'lock-lost');

  it('property: every row ends with one outcome in bounded jobs, never enrolling blind after an uncertain try', () => {
    fc.assert(
      fc.property(
        fc.array(faultArb, { maxLength: 14 }),
        fc.option(fc.integer({ min: 1000, max: WINDOW_MS + 120_000 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<'email' | 'none'>('email', 'none'),
        (faults, scanAfterMs, revisit, listWithoutExpiry, deliver) => {
          const existing = revisit ? [{ id: 'opf9', factorType: 'push', status: 'EXPIRED' as const, expiresAt: NOW - 1, created: NOW - 86_400_000 }] : [];
          const r = runHarness({ faults, scanAfterMs, settings: { revisit, deliver }, existing, listWithoutExpiry, maxJobs: 400 });
          expect(r.outcome, `no outcome after ${r.jobs} jobs; calls ${r.calls.join(',')}`).toBeDefined();
          expect(r.finalizes).toBe(1);
          expect(r.blindReenroll, `calls ${r.calls.join(',')}`).toBe(false);
          // attempts: at least what Okta answered, at most what it created
          expect(r.outcome!.attempts).toBeGreaterThanOrEqual(Math.min(r.answered, 1));
          expect(r.outcome!.attempts).toBeLessThanOrEqual(r.created);
          // no duplicate factor without the row saying so
          const pushes = r.factors.filter((f) => f.factorType === 'push');
          if (pushes.length > 1 + (revisit ? 1 : 0)) expect(r.outcome!.errorCode).toBe('DUPLICATE_FACTOR');
          // every activation created is delivered, or the row says why not
          if (deliver === 'none') expect(r.outcome!.delivery).toBe('none');
          else if (r.answered > 0 && r.outcome!.outcome !== 'failed') expect(r.outcome!.delivery).toMatch(/^(sent|failed:.+)$/);
          if (r.outcome!.outcome === 'activated') expect(pushes.some((f) => f.status === 'ACTIVE')).toBe(true);
        },
      ),
      { numRuns: Number(process.env.LIFECYCLE_RUNS ?? 400) },
    );
  });

  it('property: decide() is deterministic and never throws on any result for any step', () => {
    const results: StepResult[] = [
      { step: 'begin' },
      { step: 'claim', result: 'wait' },
      { step: 'claim', result: { duplicateOf: 1 } },
      { step: 'read-cap', count: 9, ownLast: false },
      { step: 'list-factors', purpose: 'look-first', factors: [] },
      { step: 'list-factors', purpose: 'race-check', factors: [pendingView('a'), pendingView('b')] },
      { step: 'charge', purpose: 'enroll', allowed: false, count: 5 },
      { step: 'enroll', view: pendingView() },
      { step: 'read-factor', view: { ...pendingView(), state: 'other', status: 'INACTIVE' } },
      { step: 'error', during: 'enroll', trouble: { kind: 'credentials', code: 'E0000011', summary: 'Invalid token' } },
      { step: 'error', during: 'read-factor', trouble: { kind: 'transient', code: 'HTTP_502', summary: 'Bad Gateway', maybeProcessed: true } },
    ];
    fc.assert(
      fc.property(fc.constantFrom(...results), fc.boolean(), (result, poll) => {
        const c = ctx({ job: { kind: poll ? 'poll' : 'enroll', attemptsMade: 0, maxAttempts: 8 } });
        const state = { ...newRowState(), userId: USER, phase: 'waiting' as const, factor: { id: 'opf1', status: 'PENDING_ACTIVATION' }, activation: { startedAt: NOW, expiresAt: NOW + WINDOW_MS, expiresKnown: true, polls: 0, delivered: true } };
        const a = decide(state, c, result);
        const b = decide(state, c, result);
        expect(a).toEqual(b);
      }),
    );
  });
});
