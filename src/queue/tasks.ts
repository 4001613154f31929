/**
 * The contract between the runtime and the tasks it is handed (graphile-worker's task
 * list): what a job handler gets (its data, a small view of the BullMQ job, and its
 * dependencies) and what the runtime expects back. The handlers live in jobs/; the
 * runtime never imports them: the commands that start a runtime hand them over.
 * Handlers never reach the CLI, the simulator or process state.
 */
import type { Logger } from '../logger.js';
import type { ActivationSecrets, Bucket, OktaClient } from '../okta/types.js';
import type { RunStore } from '../runs/store.js';
import type { ScheduleStore } from '../reenroll/schedules.js';

export interface RowJobData {
  runId: string;
  row: number;
}

export interface JobContext {
  /** Which queue the job came from: the enroll job starts a row, the poll job follows it. */
  kind: 'enroll' | 'poll';
  /** Tries already made (BullMQ attemptsMade), not counting delays. */
  attemptsMade: number;
  /** Tries allowed for this job. */
  maxAttempts: number;
  /** Aborted when BullMQ could not renew the job's lock (another worker may have it now). */
  signal?: AbortSignal;
  /**
   * Whether this worker still holds the job's lock. Asked right before and right after
   * every request that creates or restarts an activation.
   */
  lockHeld(): Promise<boolean>;
  /** Park the job until `at` (epoch ms) without charging an attempt. Never returns. */
  delayUntil(at: number): Promise<never>;
  /** A logger scoped to this job (runId, row, jobId). */
  logger: Logger;
}

export interface JobDeps {
  store: RunStore;
  /** Client whose requests go through the limiter's enroll lane. */
  okta: OktaClient;
  /** Client whose requests go through the limiter's poll lane. */
  oktaPoll: OktaClient;
  /** Add the poll job of a row (a no-op if it is already there). */
  schedulePoll(runId: string, row: number, at: number): Promise<void>;
  /** Hand a row back to the enroll queue (its progress was lost). */
  requeueEnroll(runId: string, row: number): Promise<void>;
  /** A condition no row of this process can overcome (credentials rejected): stop the process. */
  onFatal(err: Error): void;
  /** A condition no row of this run can overcome (every user refused, a policy, a missing scope): stop the run. */
  stopRun(runId: string, reason: string): Promise<void>;
  /** Until when the shared limiter keeps a bucket paused (read-only mode, a bucket 429), if it does. */
  pausedUntil?(bucket: Bucket): number | null;
  /** --export-activation: hand activation material to the owner-only export file. */
  exportActivation?(entry: ActivationExport): void;
  logger: Logger;
  now(): number;
}

export interface ActivationExport {
  runId: string;
  row: number;
  userId: string;
  login?: string;
  factorId: string;
  secrets: ActivationSecrets;
}

/** A job handler as the runtime is handed it (graphile-worker's task list). */
export type RowTask = (data: RowJobData, ctx: JobContext, deps: JobDeps) => Promise<void>;

// ---- the nightly task (a tick of `bulk-enroll schedule`, on the control queue) ----

export interface NightlyJobData {
  /** The schedule's name; everything else is read from Redis. */
  schedule: string;
}

export interface NightlyContext {
  /** BullMQ job id: the same on a re-run of a stalled job, different for every tick. */
  jobId: string;
  /** Aborted when this worker stops. */
  signal: AbortSignal;
  /** Park the job until `at` without charging an attempt. Never returns. */
  delayUntil(at: number): Promise<never>;
}

export interface NightlyDeps {
  store: RunStore;
  schedules: ScheduleStore;
  /** Needed for group sources. */
  okta?: OktaClient;
  logger: Logger;
  now(): number;
  /** Run lock TTL; the heartbeat renews it every third of that. */
  lockTtlMs: number;
  /** How often the run's state is looked at while waiting. */
  waitIntervalMs: number;
  /** Recorded in the manifest. */
  orgUrl?: string;
}

export type NightlyResult =
  | { kind: 'skipped'; reason: string; heldBy?: string; runId?: string }
  | { kind: 'finished'; runId: string; report: string; counts: Record<string, number>; resumed: boolean }
  | { kind: 'lost'; runId?: string; reason: string };

export type NightlyTask = (data: NightlyJobData, ctx: NightlyContext, deps: NightlyDeps) => Promise<NightlyResult>;

/** The tasks a runtime with workers is handed. */
export interface Tasks {
  enroll: RowTask;
  poll: RowTask;
  /** Needed by processes that take the control queue (`bulk-enroll worker`). */
  nightly?: NightlyTask;
}
