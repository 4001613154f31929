/**
 * What a job handler gets: its data, a small view of the BullMQ job, and its
 * dependencies. Handlers never reach the CLI, the simulator or process state.
 */
import type { Logger } from '../src/logger.js';
import type { ActivationSecrets, OktaClient } from '../src/okta/types.js';
import type { RunStore } from '../src/runs/store.js';

export interface RowJobData {
  runId: string;
  row: number;
}

export interface JobContext {
  /** Tries already made (BullMQ attemptsMade), not counting delays. */
  attemptsMade: number;
  /** Tries allowed for this job. */
  maxAttempts: number;
  /** Park the job until `at` (epoch ms) without charging an attempt. Never returns. */
  delayUntil(at: number): Promise<never>;
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
  /** A condition no row can overcome (token rejected): stop the process. */
  onFatal(err: Error): void;
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
