/**
 * The control worker a `bulk-enroll worker` process runs beside its enroll and poll
 * workers: it takes the jobs BullMQ's job schedulers put on the `control` queue (one
 * per tick of `bulk-enroll schedule`) and runs them (jobs/nightly.ts). A few at once,
 * so that a tick arriving while a night is still going is looked at (and skipped) at
 * once instead of waiting behind it.
 */
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ProcessConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { OktaClient } from '../okta/types.js';
import { QUEUES } from '../runs/keys.js';
import type { RunStore } from '../runs/store.js';
import type { NightlyJobData, NightlyResult, NightlyTask } from '../queue/tasks.js';
import { ScheduleStore } from './schedules.js';

export const NIGHTLY_JOB = 'nightly';

export interface ControlOptions {
  /** Nightly run lock TTL (default 60 s; the heartbeat renews it every third). */
  lockTtlMs?: number;
  /** How often a nightly job looks at its run while waiting (default 1 s). */
  waitIntervalMs?: number;
  /** Nightly jobs handled at once by this process (default 4). */
  concurrency?: number;
}

export interface ControlWorker {
  readonly queue: Queue<NightlyJobData>;
  readonly worker: Worker<NightlyJobData, NightlyResult>;
  /** Nightly jobs hand themselves back, then the worker and queue close. */
  close(): Promise<void>;
}

export function controlQueue(config: Pick<ProcessConfig, 'prefix'>, connection: Redis): Queue<NightlyJobData> {
  return new Queue<NightlyJobData>(QUEUES.control, { connection, prefix: config.prefix });
}

export function startControlWorker(opts: {
  config: ProcessConfig;
  logger: Logger;
  store: RunStore;
  redis: Redis;
  okta?: OktaClient;
  /** The nightly task (jobs/nightly.ts), handed over by whoever starts the runtime. */
  nightly: NightlyTask;
} & ControlOptions): ControlWorker {
  const { config, logger, store, redis } = opts;
  const stopping = new AbortController();
  const schedules = new ScheduleStore(redis, config.prefix);
  const queue = controlQueue(config, redis);
  queue.on('error', (err) => logger.debug('control queue error', { error: err.message }));
  const worker = new Worker<NightlyJobData, NightlyResult>(
    QUEUES.control,
    async (job: Job<NightlyJobData>, token?: string) => {
      if (job.name !== NIGHTLY_JOB) {
        logger.warn(`control queue: unknown job ${job.name} (${job.id}); ignored`);
        return { kind: 'skipped', reason: `unknown job ${job.name}` };
      }
      return opts.nightly(
        job.data,
        {
          jobId: job.id!,
          signal: stopping.signal,
          delayUntil: async (at: number) => {
            await job.moveToDelayed(Math.max(Date.now() + 1, Math.round(at)), token);
            throw new DelayedError();
          },
        },
        {
          store,
          schedules,
          ...(opts.okta ? { okta: opts.okta } : {}),
          logger,
          now: () => Date.now(),
          lockTtlMs: opts.lockTtlMs ?? 60_000,
          waitIntervalMs: opts.waitIntervalMs ?? 1000,
          orgUrl: config.orgUrl,
        },
      );
    },
    {
      connection: redis,
      prefix: config.prefix,
      concurrency: opts.concurrency ?? 4,
      maxStalledCount: 3,
      stalledInterval: config.stalledIntervalMs,
      lockDuration: config.lockDurationMs,
    },
  );
  worker.on('error', (err) => logger.debug('control worker error', { error: err.message }));
  worker.on('failed', (job, err) => {
    if (err instanceof DelayedError) return;
    logger.error(`nightly ${job?.data?.schedule ?? '?'}: job ${job?.id ?? '?'} failed: ${err.message}`, { schedule: job?.data?.schedule, jobId: job?.id });
  });
  return {
    queue,
    worker,
    close: async () => {
      stopping.abort();
      await worker.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
    },
  };
}
