/**
 * The shell around a row's lifecycle, shared by the enroll and poll jobs: load the row's
 * records, then ask the lifecycle (src/rows/lifecycle.ts) for the next step, carry it out
 * (jobs/steps.ts), feed the result back, until a step ends the job: the row waits for its
 * user (a poll job, the System Log), waits for something else (the job parks itself, no
 * attempt charged), has its outcome, is retried by BullMQ, or is left to another worker.
 */
import { DEFAULT_RUN_SETTINGS } from '../src/config.js';
import { decide, type RowContext, type StepResult, TERMINAL } from '../src/rows/lifecycle.js';
import { judgeEvents } from '../src/rows/log-evidence.js';
import { failedOutcome } from '../src/rows/outcome.js';
import { rowSettingsOf } from '../src/rows/row-settings.js';
import { jitter } from '../src/queue/backoff.js';
import type { JobContext, JobDeps, RowJobData } from '../src/queue/tasks.js';
import { performStep, type StepEnv } from './steps.js';

/** A lifecycle that has not ended its job after this many steps is a bug: fail loudly, never loop. */
const MAX_STEPS = 40;
/** Run state is read at most this often per process (pause / cancel take effect this fast). */
const META_MAX_AGE_MS = 1000;

export class RowRetry extends Error {
  override readonly name = 'RowRetry';
}

export async function driveRow(data: RowJobData, ctx: JobContext, deps: JobDeps): Promise<void> {
  const { store } = deps;
  const { runId, row } = data;
  const meta = await store.getMeta(runId, META_MAX_AGE_MS);
  if (!meta) return; // the run was deleted
  const records = await store.rowRecords(runId, row);
  if (records.outcome) return;
  if (!records.input) {
    await store.finalize(runId, row, failedOutcome('INTERNAL_ERROR', 'the row input is missing from Redis', deps.now()));
    return;
  }
  const input = records.input;
  const settings = { ...DEFAULT_RUN_SETTINGS, ...meta.settings };
  const rowSettings = rowSettingsOf(settings, input);
  const recovering = ctx.kind === 'enroll' ? await store.isRecovering() : false;
  const context = (): RowContext => ({
    now: deps.now(),
    settings: rowSettings,
    input: { ...(input.userId ? { userId: input.userId } : {}), ...(input.login ? { login: input.login } : {}) },
    job: { kind: ctx.kind, attemptsMade: ctx.attemptsMade, maxAttempts: ctx.maxAttempts },
    run: {
      state: meta.state,
      ...(meta.rerunOf ? { rerunOf: meta.rerunOf } : {}),
      recovering,
      logDetects: settings.detect === 'log' && meta.logState !== 'forbidden',
      activeStatus: meta.activeStatus ?? 'ACTIVE',
    },
  });
  const env: StepEnv = { data, input, settings, ctx, deps, detached: false };
  let state = records.state;
  let result: StepResult = { step: 'begin' };
  let seenChecked = false;
  for (let n = 0; n < MAX_STEPS; n++) {
    const d = decide(state, context(), result);
    state = d.state;
    if (d.persist && !env.detached) await store.setRowState(runId, row, state);
    const s = d.step;
    if (!TERMINAL.has(s.kind)) {
      result = await performStep(s, state, env);
      continue;
    }
    switch (s.kind) {
      case 'follow': {
        if (s.watch && ctx.kind === 'enroll' && !seenChecked && state.userId && state.factor) {
          // Events read by the watcher before this row was watched count too.
          seenChecked = true;
          const seen = await store.watchUser(runId, state.userId, row);
          const evidence = judgeEvents(seen, { factorId: state.factor.id, factorType: rowSettings.factorType, ...createdMs(state.factor.created) });
          if (evidence === 'ours' || evidence === 'unreadable') {
            result = { step: 'log-evidence', evidence };
            continue;
          }
        }
        if (ctx.kind === 'enroll') await deps.schedulePoll(runId, row, s.at);
        else await ctx.delayUntil(s.at);
        return;
      }
      case 'wait': {
        let until = s.until;
        if (s.reason === 'read-only' || s.reason === 'rate-limit') until = Math.max(until, deps.pausedUntil?.('factors') ?? 0) + jitter(1000);
        ctx.logger.verbose(`row waits (${s.reason}) until ${new Date(until).toISOString()}`, { runId, row });
        await ctx.delayUntil(until);
        return;
      }
      case 'finalize':
        await store.finalize(runId, row, s.outcome, state.userId ? { userId: state.userId, factorType: rowSettings.factorType } : undefined);
        return;
      case 'retry':
        throw new RowRetry(s.summary);
      case 'requeue-enroll':
        await deps.requeueEnroll(runId, row);
        return;
      case 'stop-run':
        if (s.outcome) await store.finalize(runId, row, s.outcome, state.userId ? { userId: state.userId, factorType: rowSettings.factorType } : undefined);
        await deps.stopRun(runId, s.reason);
        return;
      case 'stop-process':
        deps.onFatal(new Error(s.reason));
        // Hand the job back untouched; the process is stopping.
        await ctx.delayUntil(deps.now() + 5000);
        return;
      case 'abandon':
        ctx.logger.debug(`row left alone: ${s.reason}`, { runId, row });
        return;
    }
  }
  throw new Error(`row ${row} of run ${runId}: the lifecycle did not end the job within ${MAX_STEPS} steps (last step ${result.step})`);
}

function createdMs(created: string | undefined): { createdMs?: number } {
  const t = created ? Date.parse(created) : NaN;
  return Number.isFinite(t) ? { createdMs: t } : {};
}
