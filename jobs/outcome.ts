/**
 * Turning errors into the queue's next step: shared by the enroll and poll handlers.
 *  - 429 (any kind): park the job until Okta's reset, no attempt charged (the limiter
 *    has already paused the bucket or lowered concurrency for every worker);
 *  - 401 / 403: fatal for the process (every row would fail the same way);
 *  - other 4xx, foreign links, unreadable answers: the row fails with Okta's errorCode;
 *  - 5xx, network errors, anything else: retry with backoff; on the last try the row
 *    fails with the last error, never silently.
 */
import { OktaApiError, OktaNetworkError, ForeignOriginError, OktaProtocolError, InsecureTransportError } from '../src/okta/errors.js';
import { DelayedError } from 'bullmq';
import { jitter } from '../src/queue/backoff.js';
import type { Outcome, OutcomeRecord, Progress } from '../src/runs/records.js';
import type { JobContext, JobDeps, RowJobData } from './context.js';

export class FatalOktaError extends Error {
  override readonly name = 'FatalOktaError';
}

/** The final record of a row, from what its progress says. */
export function outcomeRecord(o: Outcome, p: Progress, now: number, extra: Partial<OutcomeRecord> = {}): OutcomeRecord {
  return {
    o,
    uid: p.uid,
    fid: p.fid,
    fs: p.fs,
    at: p.at,
    cr: p.cr,
    fin: new Date(now).toISOString(),
    n: p.n,
    d: p.dv === 'pending' ? undefined : p.dv,
    ...extra,
  };
}

export function failedRecord(p: Progress, errorCode: string, errorSummary: string, now: number, extra: Partial<OutcomeRecord> = {}): OutcomeRecord {
  return outcomeRecord('failed', p, now, { ec: errorCode, es: errorSummary, ...extra });
}

/** Decide what an error means for this row. Throws to retry, returns after writing a final outcome. */
export async function handleJobError(err: unknown, data: RowJobData, p: Progress, ctx: JobContext, deps: JobDeps): Promise<void> {
  if (err instanceof DelayedError) throw err; // the job parked itself: not an error
  const { store, now } = deps;
  const fail = async (code: string, summary: string) => {
    await store.finalize(data.runId, data.row, failedRecord(p, code, summary, now()));
  };

  if (err instanceof OktaApiError) {
    if (err.status === 429) {
      const wait = (err.rateLimit?.resetInMs ?? 1000) + jitter(err.rateLimitKind === 'bucket' ? 1000 : 250);
      await ctx.delayUntil(now() + Math.max(100, wait));
    }
    const tokenEndpoint = err.path.startsWith('/oauth2/');
    if (err.status === 401 || tokenEndpoint || (err.status === 403 && (err.errorCode === 'E0000006' || err.errorCode === 'INSUFFICIENT_SCOPE'))) {
      // Every row would fail the same way: stop the run instead (resume once fixed).
      const fatal = new FatalOktaError(
        err.status === 401 || tokenEndpoint
          ? `Okta rejected the credentials (${err.errorCode}: ${err.errorSummary}). Check OKTA_API_TOKEN / --token-file (or the OAuth client id, key and scopes) and --org-url.`
          : `Okta refused ${err.method} ${err.path} (${err.errorCode}: ${err.errorSummary}). ${err.errorCode === 'INSUFFICIENT_SCOPE' ? 'Grant the missing scope to the service app.' : 'The admin behind the credentials lacks a role allowed to manage factors.'}`,
      );
      deps.onFatal(fatal);
      // Hand the job back untouched; the process is stopping.
      await ctx.delayUntil(now() + 5000);
    }
    if (err.status >= 400 && err.status < 500) {
      await fail(err.errorCode, err.errorSummary);
      return;
    }
    if (ctx.attemptsMade + 1 >= ctx.maxAttempts) {
      await fail(err.errorCode, `${err.errorSummary} (after ${ctx.attemptsMade + 1} tries)`);
    }
    throw err;
  }
  if (err instanceof ForeignOriginError || err instanceof InsecureTransportError) {
    await fail('FOREIGN_LINK', err.message);
    return;
  }
  if (err instanceof OktaProtocolError) {
    await fail(err.errorCode, err.message);
    return;
  }
  if (ctx.attemptsMade + 1 >= ctx.maxAttempts) {
    if (err instanceof OktaNetworkError) await fail('NETWORK_ERROR', `${err.message} (after ${ctx.attemptsMade + 1} tries)`);
    else await fail('INTERNAL_ERROR', `${(err as Error)?.message ?? String(err)} (after ${ctx.attemptsMade + 1} tries)`);
  }
  throw err;
}
