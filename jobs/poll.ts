/**
 * poll job: follow a pending factor's poll link (GET in the seed's API, POST today)
 * until the user has scanned (activated) or the activation expired. The job continues
 * as itself, delayed, between polls; a final outcome is written once and a later poll
 * never overwrites it.
 */
import type { JobContext, JobDeps, RowJobData } from './context.js';
import { failedRecord, handleJobError, outcomeRecord } from './outcome.js';
import { continueWaiting, pollLinkOf, recordFactor } from './factor-state.js';

export async function processPoll(data: RowJobData, ctx: JobContext, deps: JobDeps): Promise<void> {
  const { store } = deps;
  const { runId, row } = data;
  const meta = await store.getMeta(runId, 10_000);
  if (!meta) return;
  const [outcome, p] = await Promise.all([store.getOutcome(runId, row), store.getProgress(runId, row)]);
  if (outcome) return;
  const link = pollLinkOf(p);
  if (!link || !p.uid || !p.fid) {
    // Progress lost (e.g. Redis lost its last second of writes): the enroll job adopts the factor.
    await deps.requeueEnroll(runId, row);
    return;
  }
  try {
    const view = await deps.oktaPoll.poll(p.uid, link);
    const now = deps.now();
    p.pn = (p.pn ?? 0) + 1;
    recordFactor(p, view, now, meta.settings, false);
    if (view.state === 'activated' || view.state === 'expired') {
      await store.finalize(runId, row, outcomeRecord(view.state, p, now));
      return;
    }
    if (view.state === 'waiting') {
      const next = await continueWaiting(data, p, deps, meta.settings);
      if (next.kind === 'poll') await ctx.delayUntil(next.at);
      return;
    }
    await store.finalize(runId, row, failedRecord(p, 'UNEXPECTED_STATUS', `factor status ${view.status}`, now));
  } catch (err) {
    await handleJobError(err, data, p, ctx, deps);
  }
}
