/**
 * The reconciler makes sure every fed row ends with an outcome even when BullMQ
 * loses track of it: a job that stalled more than maxStalledCount times (failed
 * without its processor running), a job lost with the last second of Redis writes,
 * a crash between two steps, a run resumed or unpaused after its jobs ended. A row in
 * flight with no outcome and no live job, seen that way on two passes in a row (or at
 * once when `now` is asked), is handed back to the right queue (its state tells which);
 * a row whose job failed for good gets a failed outcome with the reason.
 */
import type { Queue } from 'bullmq';
import { jobIds } from '../runs/keys.js';
import type { RunStore } from '../runs/store.js';
import type { Logger } from '../logger.js';
import { buildOutcome } from '../rows/outcome.js';
import type { RowState } from '../rows/state.js';

const LIVE = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children', 'wait', 'paused']);
/** Re-queues of one row after stalls before it is failed for good (a poison row must end). */
export const MAX_REQUEUES = 3;

export interface ReconcilerDeps {
  store: RunStore;
  enrollQueue: Queue;
  pollQueue: Queue;
  logger: Logger;
}

export class Reconciler {
  /** Rows seen orphaned on the previous pass: runId:row → first seen. */
  private suspects = new Map<string, number>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** `immediate`: hand orphans back on this pass (a run just resumed: its jobs ended while it was not active). */
  async reconcileRun(runId: string, opts: { immediate?: boolean } = {}): Promise<{ requeued: number; failed: number }> {
    const { store } = this.deps;
    const meta = await store.getMeta(runId);
    if (!meta || meta.state !== 'active') return { requeued: 0, failed: 0 };
    let requeued = 0;
    let failed = 0;
    const seenNow = new Set<string>();
    const all = await store.inflightAll(runId);
    for (let i = 0; i < all.length; i += 200) {
      const rows = all.slice(i, i + 200);
      const states = await Promise.all(
        rows.map(async (row) => {
          const [e, p] = await Promise.all([
            this.deps.enrollQueue.getJobState(jobIds.enroll(runId, row)),
            this.deps.pollQueue.getJobState(jobIds.poll(runId, row)),
          ]);
          return { row, e, p };
        }),
      );
      for (const { row, e, p } of states) {
        if (LIVE.has(e) || LIVE.has(p)) continue;
        const key = `${runId}:${row}`;
        seenNow.add(key);
        if (!opts.immediate && !this.suspects.has(key)) {
          this.suspects.set(key, Date.now());
          continue;
        }
        const r = await this.settleOrphan(runId, row, e, p, { resumed: opts.immediate });
        if (r === 'requeued') requeued++;
        else if (r === 'failed') failed++;
      }
    }
    for (const key of this.suspects.keys()) if (key.startsWith(`${runId}:`) && !seenNow.has(key)) this.suspects.delete(key);
    if ((requeued || failed) && !opts.immediate) this.deps.logger.warn('reconciler settled orphaned rows', { runId, requeued, failed });
    return { requeued, failed };
  }

  /** Also used by the workers' 'failed' listener for jobs that failed for good. */
  async settleOrphan(runId: string, row: number, enrollState: string, pollState: string, opts: { resumed?: boolean } = {}): Promise<'requeued' | 'failed' | 'none'> {
    const { store, enrollQueue, pollQueue } = this.deps;
    this.suspects.delete(`${runId}:${row}`);
    if (await store.getOutcome(runId, row)) return 'none';
    const state = await store.getRowState(runId, row);
    const failedJob =
      pollState === 'failed'
        ? await pollQueue.getJob(jobIds.poll(runId, row))
        : enrollState === 'failed'
          ? await enrollQueue.getJob(jobIds.enroll(runId, row))
          : undefined;
    const reason = failedJob?.failedReason ?? '';
    const stalled = /stalled/i.test(reason);
    const claim = state.userId ? { userId: state.userId, factorType: await this.factorTypeOf(runId, row) } : undefined;
    if (failedJob && !stalled) {
      await store.finalize(runId, row, buildOutcome(state, 'failed', Date.now(), { errorCode: 'JOB_FAILED', errorSummary: reason || 'the job failed' }), claim);
      return 'failed';
    }
    // A run that was paused or stopped ended its jobs on purpose: handing them back is not a stall.
    const next: RowState = opts.resumed && !failedJob ? state : { ...state, requeues: state.requeues + 1 };
    if (!opts.resumed && state.requeues >= MAX_REQUEUES) {
      await store.finalize(
        runId,
        row,
        buildOutcome(state, 'failed', Date.now(), { errorCode: 'WORKER_LOST', errorSummary: `the row's job was lost or stalled ${state.requeues + 1} times (workers killed while processing it)` }),
        claim,
      );
      return 'failed';
    }
    await store.setRowState(runId, row, next);
    if (failedJob) await failedJob.remove().catch(() => undefined);
    if (state.phase === 'waiting' && state.factor) {
      await pollQueue.getJob(jobIds.poll(runId, row)).then((j) => j?.remove()).catch(() => undefined);
      await pollQueue.add('poll', { runId, row }, { jobId: jobIds.poll(runId, row) });
    } else {
      await enrollQueue.getJob(jobIds.enroll(runId, row)).then((j) => j?.remove()).catch(() => undefined);
      await enrollQueue.add('enroll', { runId, row }, { jobId: jobIds.enroll(runId, row) });
    }
    return 'requeued';
  }

  private async factorTypeOf(runId: string, row: number): Promise<string> {
    const records = await this.deps.store.rowRecords(runId, row);
    return records.input?.factorType ?? 'push';
  }
}
