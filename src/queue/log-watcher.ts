/**
 * Activation detection from Okta's System Log: one `GET /api/v1/logs` answers for up
 * to a thousand users, where polling costs a call per factor, several times over. For
 * each run with detect=log, one process at a time (a lock with a TTL) reads
 * `user.mfa.factor.activate` events on a steady cadence. What an event means for a row
 * is decided by the row lifecycle from src/rows/log-evidence.ts: an event that names the
 * row's push factor settles it (its pending poll job is removed); one that names another
 * factor is ignored; one that names no factor the runner can read brings the row's poll
 * forward (one counted poll confirms). Every row keeps its confirming poll just after
 * expiresAt, so the log is an optimisation that can never make an outcome wrong.
 *
 * An event for a user whose row is not watched yet (the user scanned within
 * milliseconds, the delivery waited on the limiter) is kept for that row, which reads it
 * when it starts watching: nothing is lost to that race.
 *
 * Okta's semantics respected here: a query without `until` is a polling query whose
 * answer always carries rel="next", so a pass follows it only until a short page; events
 * come in the order Okta stored them, so the `next` cursor is kept durably in Redis
 * instead of re-deriving `since` from timestamps.
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { DEFAULT_RUN_SETTINGS } from '../config.js';
import type { Logger } from '../logger.js';
import { OktaApiError } from '../okta/errors.js';
import type { LogEvent, OktaClient } from '../okta/types.js';
import { decide } from '../rows/lifecycle.js';
import { ACTIVATE_EVENT, factsOf, judgeEvent } from '../rows/log-evidence.js';
import { firstPollDelay } from '../rows/poll-schedule.js';
import { rowSettingsOf } from '../rows/row-settings.js';
import type { RunMeta, RunStore } from '../runs/store.js';
import { jobIds } from '../runs/keys.js';

const PAGE = 1000;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface LogPassResult {
  events: number;
  settled: number;
  /** Rows whose poll was brought forward because an event named no factor the runner could read. */
  confirmPolls: number;
  forbidden?: boolean;
}

export async function watchRunLog(store: RunStore, okta: OktaClient, pollQueue: Queue, runId: string, logger: Logger, lockTtlMs: number): Promise<LogPassResult> {
  const k = store.keys(runId);
  const token = randomBytes(8).toString('hex');
  const result: LogPassResult = { events: 0, settled: 0, confirmPolls: 0 };
  if ((await store.redis.set(k.logLock, token, 'PX', lockTtlMs, 'NX')) !== 'OK') return result;
  try {
    const meta = await store.getMeta(runId);
    if (!meta || meta.state !== 'active' || meta.settings.detect !== 'log' || meta.logState === 'forbidden') return result;
    let cursor = await store.redis.get(k.logCursor);
    for (let pages = 0; pages < 20; pages++) {
      let page;
      try {
        page = cursor
          ? await okta.getLogs({ next: cursor }, { runId })
          : await okta.getLogs({ since: new Date(Date.parse(meta.createdAt) - 60_000).toISOString(), filter: `eventType eq "${ACTIVATE_EVENT}"`, limit: PAGE }, { runId });
      } catch (err) {
        if (err instanceof OktaApiError && (err.status === 403 || err.status === 401)) {
          await fallBackToPolling(store, pollQueue, runId, logger, err);
          return { ...result, forbidden: true };
        }
        throw err;
      }
      for (const event of page.items) {
        if (event.eventType !== ACTIVATE_EVENT) continue;
        result.events++;
        for (const userId of event.targetUserIds) await onEvent(store, pollQueue, meta, userId, event, result);
      }
      if (page.next) {
        cursor = page.next;
        await store.redis.set(k.logCursor, cursor);
      }
      if (page.items.length < PAGE || !page.next) break;
    }
  } finally {
    await store.redis.eval(RELEASE, 1, k.logLock, token).catch(() => undefined);
  }
  if (result.confirmPolls) await store.redis.hincrby(k.counts, 'confirmPolls', result.confirmPolls);
  return result;
}

async function onEvent(store: RunStore, pollQueue: Queue, meta: RunMeta, userId: string, event: LogEvent, result: LogPassResult): Promise<void> {
  const runId = meta.id;
  const row = await store.logEventSeen(runId, userId, factsOf(event));
  if (row <= 0) return; // not in this run, or kept until the user's row starts watching
  const records = await store.rowRecords(runId, row);
  if (records.outcome || !records.input || !records.state.factor) return;
  const { state, input } = records;
  const settings = { ...DEFAULT_RUN_SETTINGS, ...meta.settings };
  const rowSettings = rowSettingsOf(settings, input);
  const created = state.factor!.created ? Date.parse(state.factor!.created) : NaN;
  const evidence = judgeEvent(factsOf(event), { factorId: state.factor!.id, factorType: rowSettings.factorType, ...(Number.isFinite(created) ? { createdMs: created } : {}) });
  const d = decide(
    state,
    {
      now: Date.now(),
      settings: rowSettings,
      input: { ...(input.userId ? { userId: input.userId } : {}), ...(input.login ? { login: input.login } : {}) },
      job: { kind: 'poll', attemptsMade: 0, maxAttempts: 1 },
      run: { state: meta.state, recovering: false, logDetects: true, activeStatus: meta.activeStatus ?? 'ACTIVE' },
    },
    { step: 'log-evidence', evidence },
  );
  if (d.step.kind === 'finalize') {
    if (await store.finalize(runId, row, d.step.outcome, { userId, factorType: rowSettings.factorType })) {
      result.settled++;
      // A delayed poll job is removed; one that is running sees the outcome and stops.
      await pollQueue.remove(jobIds.poll(runId, row)).catch(() => undefined);
    }
  } else if (d.step.kind === 'follow') {
    const job = await pollQueue.getJob(jobIds.poll(runId, row));
    if (job && (await job.isDelayed())) {
      await job.changeDelay(0).catch(() => undefined);
      result.confirmPolls++;
    }
  }
}

/** Okta refused the log (scope or role): say so once and bring the waiting factors back to polling. */
async function fallBackToPolling(store: RunStore, pollQueue: Queue, runId: string, logger: Logger, err: OktaApiError): Promise<void> {
  await store.setLogState(runId, 'forbidden');
  logger.warn(`The System Log is not readable with these credentials (${err.errorCode}: ${err.errorSummary}); run ${runId} polls each factor instead.`);
  const meta = await store.getMeta(runId);
  for (const row of await store.inflightAll(runId)) {
    const job = await pollQueue.getJob(jobIds.poll(runId, row));
    if (!job || !(await job.isDelayed())) continue;
    const state = await store.getRowState(runId, row);
    const a = state.activation;
    const windowMs = Math.max(1, (a?.expiresAt ?? Date.now()) - (a?.startedAt ?? Date.now()));
    const delay = meta ? firstPollDelay({ ...DEFAULT_RUN_SETTINGS, ...meta.settings }, windowMs) : 1000;
    await job.changeDelay(delay).catch(() => undefined);
  }
}

