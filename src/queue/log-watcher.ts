/**
 * Activation detection from Okta's System Log: one `GET /api/v1/logs` answers for up
 * to a thousand users, where polling costs a call per factor, several times over. For
 * each run with detect=log, one process at a time (a lock with a TTL) reads
 * `user.mfa.factor.activate` events on a steady cadence and settles the rows whose push
 * factor is waiting; those rows' pending poll jobs are removed. Everything else keeps its
 * one confirming poll just after expiresAt, so the log is an optimisation that can
 * never make an outcome wrong.
 *
 * Okta's semantics respected here: a query without `until` is a polling query whose
 * answer always carries rel="next", so a pass follows it only until a short page; events
 * come in the order Okta stored them, so the `next` cursor is kept durably in Redis
 * instead of re-deriving `since` from timestamps; an event names the user, not the
 * factor, so a row is settled only if its factor was enrolled before the event.
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from '../logger.js';
import { OktaApiError } from '../okta/errors.js';
import type { OktaClient } from '../okta/types.js';
import { firstPollDelay } from './poll-schedule.js';
import { jobIds } from '../runs/keys.js';
import type { Progress } from '../runs/records.js';
import { parseJson } from '../runs/records.js';
import type { RunStore } from '../runs/store.js';

export const ACTIVATE_EVENT = 'user.mfa.factor.activate';
const PAGE = 1000;
/** Okta's clocks and ours: accept an event published this long before the factor's `created`. */
const SKEW_MS = 2000;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface LogPassResult {
  events: number;
  settled: number;
  forbidden?: boolean;
}

export async function watchRunLog(
  store: RunStore,
  okta: OktaClient,
  pollQueue: Queue,
  runId: string,
  logger: Logger,
  lockTtlMs: number,
): Promise<LogPassResult> {
  const k = store.keys(runId);
  const token = randomBytes(8).toString('hex');
  if ((await store.redis.set(k.logLock, token, 'PX', lockTtlMs, 'NX')) !== 'OK') return { events: 0, settled: 0 };
  let events = 0;
  let settled = 0;
  try {
    const meta = await store.getMeta(runId);
    if (!meta || meta.state !== 'active' || meta.settings.detect !== 'log' || meta.logState === 'forbidden') return { events, settled };
    let cursor = await store.redis.get(k.logCursor);
    for (let pages = 0; pages < 20; pages++) {
      let page;
      try {
        page = cursor
          ? await okta.getLogs({ next: cursor })
          : await okta.getLogs({ since: new Date(Date.parse(meta.createdAt) - 60_000).toISOString(), filter: `eventType eq "${ACTIVATE_EVENT}"`, limit: PAGE });
      } catch (err) {
        if (err instanceof OktaApiError && (err.status === 403 || err.status === 401)) {
          await fallBackToPolling(store, pollQueue, runId, logger, err);
          return { events, settled, forbidden: true };
        }
        throw err;
      }
      for (const event of page.items) {
        if (event.eventType !== ACTIVATE_EVENT) continue;
        events++;
        for (const userId of event.targetUserIds) {
          if (await settleFromEvent(store, pollQueue, runId, userId, event.published)) settled++;
        }
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
  return { events, settled };
}

async function settleFromEvent(store: RunStore, pollQueue: Queue, runId: string, userId: string, published: string): Promise<boolean> {
  const k = store.keys(runId);
  const rowStr = await store.redis.hget(k.byUser, userId);
  if (!rowStr) return false;
  const row = Number(rowStr);
  if (await store.getOutcome(runId, row)) return false;
  const p = parseJson<Progress>(await store.redis.hget(k.progress, rowStr)) ?? {};
  if (p.s !== 'enrolled' || !p.cr || !p.fid) return false;
  if (Date.parse(published) < Date.parse(p.cr) - SKEW_MS) return false; // an older factor's activation: the poll confirms
  const done = await store.finalize(runId, row, {
    o: 'activated',
    uid: p.uid,
    fid: p.fid,
    fs: 'ACTIVE',
    at: p.at,
    cr: p.cr,
    fin: new Date().toISOString(),
    n: p.n ? `${p.n}; activation seen in the System Log` : 'activation seen in the System Log',
    d: p.dv === 'pending' ? undefined : p.dv,
  });
  if (done) {
    await store.redis.hdel(k.byUser, userId);
    // A delayed poll job is removed; one that is running sees the outcome and stops.
    await pollQueue.remove(jobIds.poll(runId, row)).catch(() => undefined);
  }
  return done;
}

/** Okta refused the log (scope or role): say so once and bring the waiting factors back to polling. */
async function fallBackToPolling(store: RunStore, pollQueue: Queue, runId: string, logger: Logger, err: OktaApiError): Promise<void> {
  await store.setLogState(runId, 'forbidden');
  logger.warn(`The System Log is not readable with these credentials (${err.errorCode}: ${err.errorSummary}); run ${runId} polls each factor instead.`);
  const meta = await store.getMeta(runId);
  for (const row of await store.inflightAll(runId)) {
    const job = await pollQueue.getJob(jobIds.poll(runId, row));
    if (!job || !(await job.isDelayed())) continue;
    const p = await store.getProgress(runId, row);
    const windowMs = Math.max(1, (p.exp ?? Date.now()) - (p.ps ?? Date.now()));
    const delay = meta ? firstPollDelay(meta.settings, windowMs) : 1000;
    await job.changeDelay(delay).catch(() => undefined);
  }
}
