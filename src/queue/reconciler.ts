/**
 * The reconciler makes sure every fed row ends with an outcome even when BullMQ
 * loses track of it: a job that stalled more than maxStalledCount times (failed
 * without its processor running), a job lost with the last second of Redis writes,
 * a crash between two steps. A row in flight with no outcome and no live job, seen
 * that way on two passes in a row, is handed back to the right queue (its progress
 * tells which); a row whose job failed for good gets a failed outcome with the reason.
 */
import type { Queue } from 'bullmq';
import { jobIds } from '../runs/keys.js';
import type { RunStore } from '../runs/store.js';
import type { Logger } from '../logger.js';

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

  async reconcileRun(runId: string): Promise<{ requeued: number; failed: number }> {
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
        if (!this.suspects.has(key)) {
          this.suspects.set(key, Date.now());
          continue;
        }
        const r = await this.settleOrphan(runId, row, e, p);
        if (r === 'requeued') requeued++;
        else if (r === 'failed') failed++;
      }
    }
    for (const key of this.suspects.keys()) if (key.startsWith(`${runId}:`) && !seenNow.has(key)) this.suspects.delete(key);
    if (requeued || failed) this.deps.logger.warn('reconciler settled orphaned rows', { runId, requeued, failed });
    return { requeued, failed };
  }

  /** Also used by the workers' 'failed' listener for jobs that failed for good. */
  async settleOrphan(runId: string, row: number, enrollState: string, pollState: string): Promise<'requeued' | 'failed' | 'none'> {
    const { store, enrollQueue, pollQueue } = this.deps;
    this.suspects.delete(`${runId}:${row}`);
    if (await store.getOutcome(runId, row)) return 'none';
    const progress = await store.getProgress(runId, row);
    const failedJob =
      pollState === 'failed'
        ? await pollQueue.getJob(jobIds.poll(runId, row))
        : enrollState === 'failed'
          ? await enrollQueue.getJob(jobIds.enroll(runId, row))
          : undefined;
    const reason = failedJob?.failedReason ?? '';
    const stalled = /stalled/i.test(reason);
    const requeues = progress.rq ?? 0;
    if (failedJob && !stalled) {
      await store.finalize(runId, row, {
        o: 'failed',
        uid: progress.uid,
        fid: progress.fid,
        fs: progress.fs,
        ec: 'JOB_FAILED',
        es: reason || 'the job failed',
        at: progress.at,
        cr: progress.cr,
        fin: new Date().toISOString(),
        n: progress.n,
      });
      return 'failed';
    }
    if (requeues >= MAX_REQUEUES) {
      await store.finalize(runId, row, {
        o: 'failed',
        uid: progress.uid,
        fid: progress.fid,
        fs: progress.fs,
        ec: 'WORKER_LOST',
        es: `the row's job was lost or stalled ${requeues + 1} times (workers killed while processing it)`,
        at: progress.at,
        cr: progress.cr,
        fin: new Date().toISOString(),
        n: progress.n,
      });
      return 'failed';
    }
    progress.rq = requeues + 1;
    await store.setProgress(runId, row, progress);
    if (failedJob) await failedJob.remove().catch(() => undefined);
    if (progress.s === 'enrolled' && progress.pl) {
      await pollQueue.getJob(jobIds.poll(runId, row)).then((j) => j?.remove()).catch(() => undefined);
      await pollQueue.add('poll', { runId, row }, { jobId: jobIds.poll(runId, row) });
    } else {
      await enrollQueue.getJob(jobIds.enroll(runId, row)).then((j) => j?.remove()).catch(() => undefined);
      await enrollQueue.add('enroll', { runId, row }, { jobId: jobIds.enroll(runId, row) });
    }
    return 'requeued';
  }
}
