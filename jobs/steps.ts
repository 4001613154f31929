/**
 * Carrying out one step the row lifecycle asked for (src/rows/lifecycle.ts): a call to
 * Okta, a claim, a count in the attempt ledger, a delivery. Each returns the step's
 * result for the lifecycle to decide on; an error from the Okta client becomes a result
 * too (its meaning is decided there), while a Redis error is thrown (BullMQ retries the
 * job). Nothing here decides what the row does next.
 */
import type { RunSettings } from '../src/config.js';
import type { InputRow } from '../src/csv/input-row.js';
import { ForeignOriginError, InsecureTransportError, OktaApiError, OktaNetworkError, OktaProtocolError, RequestAbortedError } from '../src/okta/errors.js';
import type { ActivationSecrets, EnrollRequest, FactorView, RequestOptions } from '../src/okta/types.js';
import { ledgerOf } from '../src/reenroll/attempts.js';
import { REFUSED_USERS_TO_STOP, type Step, type StepResult } from '../src/rows/lifecycle.js';
import type { RowState } from '../src/rows/state.js';
import { classifyTrouble } from '../src/rows/trouble.js';
import type { JobContext, JobDeps, RowJobData } from '../src/queue/tasks.js';
import { deliverActivation } from './deliver.js';

export interface StepEnv {
  data: RowJobData;
  input: InputRow;
  settings: RunSettings;
  ctx: JobContext;
  deps: JobDeps;
  /** Activation material of the last answer in this job (never stored). */
  secrets?: ActivationSecrets;
  /** Set once the job's lock is known lost: nothing but a write-once outcome may be written then. */
  detached: boolean;
}

export function enrollBody(input: InputRow, settings: Pick<RunSettings, 'deviceFields'>): EnrollRequest {
  const body: EnrollRequest = { factorType: input.factorType, provider: input.provider };
  const profile: NonNullable<EnrollRequest['profile']> = {};
  if (settings.deviceFields && input.deviceType) body.deviceType = input.deviceType;
  if (settings.deviceFields && input.deviceName) profile.deviceName = input.deviceName;
  if ((input.factorType === 'sms' || input.factorType === 'call') && input.phoneNumber) profile.phoneNumber = input.phoneNumber;
  if (input.factorType === 'email' && input.email) profile.email = input.email;
  if (Object.keys(profile).length) body.profile = profile;
  return body;
}

function isClientError(err: unknown): boolean {
  return (
    err instanceof OktaApiError ||
    err instanceof OktaNetworkError ||
    err instanceof OktaProtocolError ||
    err instanceof ForeignOriginError ||
    err instanceof InsecureTransportError ||
    err instanceof RequestAbortedError
  );
}

export async function performStep(s: Step, state: RowState, env: StepEnv): Promise<StepResult> {
  try {
    return await perform(s, state, env);
  } catch (err) {
    if (!isClientError(err)) throw err;
    return { step: 'error', during: s.kind, trouble: classifyTrouble(err) };
  }
}

async function perform(s: Step, state: RowState, env: StepEnv): Promise<StepResult> {
  const { data, input, deps, ctx } = env;
  const { store } = deps;
  const { runId, row } = data;
  const req: RequestOptions = { runId, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const uid = state.userId ?? '';
  switch (s.kind) {
    case 'lookup-user': {
      const cached = await store.cachedLogin(runId, s.login);
      if (cached) return { step: 'lookup-user', user: { id: cached } };
      const user = await deps.okta.getUser(s.login, req);
      await store.cacheLogin(runId, s.login, user.id);
      return { step: 'lookup-user', user: { id: user.id, ...(user.status ? { status: user.status } : {}) } };
    }
    case 'claim':
      return { step: 'claim', result: await store.claimRow(runId, row, s.userId, input.factorType, s.byLogin) };
    case 'read-cap': {
      const entry = await ledgerOf(store).get(uid, input.factorType);
      return { step: 'read-cap', count: entry.count, ownLast: Boolean(entry.last?.startsWith(`${runId}:${row}:`)) };
    }
    case 'list-factors': {
      // A race check after the lock was lost must still run: the job's signal is aborted by then.
      const factors = await deps.okta.listFactors(uid, s.purpose === 'race-check' ? { runId } : req);
      await learnActiveStatus(runId, factors, deps);
      return { step: 'list-factors', purpose: s.purpose, factors };
    }
    case 'charge': {
      // An activation Okta already made (purpose 'observed') is counted whatever the cap.
      const cap = s.purpose === 'observed' ? undefined : (env.settings as { maxActivations?: number }).maxActivations;
      const r = await ledgerOf(store).charge(uid, input.factorType, { ...(cap ? { cap } : {}), runId, row, step: s.token, now: deps.now() });
      return { step: 'charge', purpose: s.purpose, allowed: r.allowed, count: r.count };
    }
    case 'enroll':
    case 'restart': {
      // The job's lock is checked once the limiter lets the request go, right before it is sent
      // (and again after the answer): a request that waited while the job was taken over never leaves.
      const fenced: RequestOptions = { ...req, beforeSend: () => ctx.lockHeld() };
      let view: FactorView;
      try {
        view =
          s.kind === 'enroll'
            ? await deps.okta.enrollFactor(uid, enrollBody(input, env.settings), { ...fenced, activate: input.factorType !== 'push' })
            : await deps.okta.activate(uid, s.link, fenced);
      } catch (err) {
        if (err instanceof RequestAbortedError && !err.maybeProcessed) return { step: 'lock-lost', sent: false };
        throw err;
      }
      if (!(await ctx.lockHeld())) {
        env.detached = true;
        ctx.logger.warn('the job lost its lock while Okta was creating an activation; checking for a duplicate factor', { runId, row });
        return { step: 'lock-lost', sent: true };
      }
      await store.noteEnrolled(runId);
      takeSecrets(view, env, uid);
      await learnActiveStatus(runId, [view], deps);
      return s.kind === 'enroll' ? { step: 'enroll', view } : { step: 'restart', view };
    }
    case 'deliver': {
      const delivery = await deliverActivation(uid, input, env.secrets, env.settings, deps, { ...req, row });
      env.secrets = undefined;
      return { step: 'deliver', delivery };
    }
    case 'read-factor': {
      const view = await deps.oktaPoll.poll(uid, s.link, req);
      if (view.secrets) takeSecrets(view, env, uid);
      await learnActiveStatus(runId, [view], deps);
      return { step: 'read-factor', view };
    }
    case 'read-user-status': {
      try {
        const user = await deps.okta.getUser(uid, req);
        return { step: 'read-user-status', ...(user.status ? { status: user.status } : {}) };
      } catch (err) {
        if (!isClientError(err)) throw err;
        return { step: 'read-user-status' };
      }
    }
    case 'note-refusal':
      return { step: 'note-refusal', verdict: await store.noteRefusal(runId, uid, REFUSED_USERS_TO_STOP) };
    case 'check-refusals':
      return { step: 'check-refusals', verdict: await store.refusalVerdict(runId, uid, REFUSED_USERS_TO_STOP) };
    case 'note-policy-refusal':
      return { step: 'note-policy-refusal', count: await store.notePolicyRefusal(runId) };
    default:
      throw new Error(`step ${s.kind} is not carried out here`);
  }
}

/** Activation material of an answer: kept in memory for the delivery, and handed to --export-activation. */
function takeSecrets(view: FactorView, env: StepEnv, userId: string): void {
  if (!view.secrets) return;
  env.secrets = view.secrets;
  env.deps.exportActivation?.({ runId: env.data.runId, row: env.data.row, userId, ...(env.input.login ? { login: env.input.login } : {}), factorId: view.factorId, secrets: view.secrets });
}

async function learnActiveStatus(runId: string, views: readonly FactorView[], deps: JobDeps): Promise<void> {
  const active = views.find((v) => v.state === 'activated' && v.status);
  if (active) await deps.store.learnActiveStatus(runId, active.status);
}
