/**
 * The engine a process runs: enroll and poll workers, the feeder and the reconciler,
 * wired to one Redis, one shared rate limiter and the Okta client. `run`, `resume`,
 * `worker` and `demo` all start this; shutdown happens in close(), in one order:
 * stop feeding → close workers (active jobs finish or are handed back) → queues →
 * clients and limiter → Redis.
 */
import { DelayedError, Queue, Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ProcessConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { OktaClient } from '../okta/types.js';
import { slowMessage, type SharedLimiter } from '../limiter/index.js';
import { openAuth, openLimiter, openOkta } from '../okta-clients.js';
import { jobIds, QUEUES } from '../runs/keys.js';
import { RunStore } from '../runs/store.js';
import { openActivationExport } from '../runs/activation-export.js';
import { startControlWorker, type ControlOptions, type ControlWorker } from '../reenroll/control.js';
import type { JobContext, JobDeps, RowJobData, RowTask, Tasks } from './tasks.js';
import { createRedis, watchRedis } from './connection.js';
import { RedisGuard } from '../redis/guard.js';
import { RedisFullError, RedisRecordsLostError } from '../redis/errors.js';
import { persistenceVisible } from '../redis/health.js';
import { describeRedis } from '../redis/settings.js';
import { feedRun } from './feeder.js';
import { Reconciler } from './reconciler.js';
import { watchRunLog } from './log-watcher.js';
import { retryDelay } from './backoff.js';
import { countersOf, publishCallStats } from '../progress.js';

/** How often slow Okta answers are reported (at info). */
const SLOW_REPORT_MS = 10_000;

export interface RuntimeOptions {
  config: ProcessConfig;
  logger: Logger;
  /** Run workers (false: only the store and queues, e.g. for enqueue/status). Default true. */
  workers?: boolean;
  feedIntervalMs?: number;
  reconcileIntervalMs?: number;
  /** Time allowed for active jobs to finish on close before they are handed back. */
  closeTimeoutMs?: number;
  /** Also take scheduled jobs from the control queue (nightly re-enrollment): `worker` processes do. */
  control?: boolean | ControlOptions;
  /** The job handlers (jobs/index.ts): required when the runtime runs workers. */
  tasks?: Tasks;
  /** OpenTelemetry for the queues and workers (src/metrics/tracing.ts); off when absent. */
  telemetry?: Telemetry;
}

export interface Runtime {
  readonly store: RunStore;
  readonly redis: Redis;
  readonly enrollQueue: Queue;
  readonly pollQueue: Queue;
  readonly limiter?: SharedLimiter;
  readonly okta?: OktaClient;
  /** Resolves with the first fatal condition (credentials rejected, Redis gone too long). */
  readonly fatal: Promise<Error>;
  /** When the System Log watcher last finished a pass (epoch ms; its start before the first). */
  readonly lastLogPassAt?: () => number | undefined;
  /** Feed / reconcile now (tests, and `run` right after enqueueing). */
  tick(): Promise<void>;
  /** `immediate`: hand orphaned rows back on this pass (a run just resumed or unpaused). */
  reconcileNow(opts?: { immediate?: boolean; runId?: string }): Promise<void>;
  close(): Promise<void>;
}

export function queueOptions(config: Pick<ProcessConfig, 'prefix'>, connection: Redis, telemetry?: Telemetry) {
  return {
    connection,
    ...(telemetry ? { telemetry } : {}),
    prefix: config.prefix,
    // Keep each job small: removal rules live on the workers, not in every job's options.
    defaultJobOptions: {
      attempts: 8,
      backoff: { type: 'jitter' },
    },
    // Nothing here reads BullMQ's event stream (outcomes live in the run's own records):
    // keep it short instead of 10,000 events.
    streams: { events: { maxLen: 500 } },
  };
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = opts;
  const runWorkers = opts.workers !== false;
  const redis = createRedis(config.redis);
  const where = describeRedis(config.redis);
  const store = new RunStore(redis, config.prefix);
  const qopts = queueOptions(config, redis, opts.telemetry);
  const enrollQueue = new Queue(QUEUES.enroll, qopts);
  const pollQueue = new Queue(QUEUES.poll, qopts);

  let resolveFatal!: (e: Error) => void;
  const fatal = new Promise<Error>((r) => (resolveFatal = r));
  let fatalSeen = false;
  let fatalError: Error | undefined;
  const onFatal = (err: Error) => {
    if (fatalSeen) return;
    fatalSeen = true;
    fatalError = err;
    logger.error(err.message);
    resolveFatal(err);
  };

  // A full Redis and a Redis that lost the records of the runs worked on here are fatal too.
  const runsSeen = new Set<string>();
  let redisFull = false;
  const workers: Worker[] = [];
  const guard = new RedisGuard({
    redis,
    where,
    prefix: config.prefix,
    onFatal,
    runsInUse: () => runsSeen,
    logger,
    graceMs: config.redisOomGraceMs,
    // While Redis refuses writes, workers and the feeder wait instead of looping on refused commands.
    onPressure: (full) => {
      redisFull = full;
      for (const w of workers) void (full ? w.pause(true) : w.resume()).catch(() => undefined);
    },
  });
  enrollQueue.on('error', (err) => {
    guard.noteError(err);
    logger.debug('enroll queue error', { error: err.message });
  });
  pollQueue.on('error', (err) => {
    guard.noteError(err);
    logger.debug('poll queue error', { error: err.message });
  });
  const watchdog = watchRedis(
    redis,
    config.redisReconnectWindowMs,
    (down) =>
      onFatal(
        new Error(
          `Redis at ${where} has been unreachable for ${Math.round(down / 1000)} s; stopping. ` +
            (!guard.serverHealth || persistenceVisible(guard.serverHealth.persistence)
              ? 'Run state is kept in Redis: resume once it is back.'
              : 'This Redis shows no persistence: resume once it is back with its data; if it comes back empty, the runs\' records are gone and the file must be run again.'),
        ),
      ),
    () => logger.warn('Redis connection lost; reconnecting', { redis: where }),
  );

  // After Redis comes back, its last second of writes may be gone (AOF everysec): for a
  // while every enroll looks at the user's factors first instead of trusting row state.
  let wasDown = false;
  redis.on('close', () => {
    wasDown = true;
  });
  redis.on('ready', () => {
    if (!wasDown) return;
    wasDown = false;
    void store.markRecovering(2 * config.lockDurationMs + config.reconcileIntervalMs).catch(() => undefined);
  });
  // Started after the line above, so that on a reconnect the recovery mark goes out first.
  guard.start();

  const reconciler = new Reconciler({ store, enrollQueue, pollQueue, logger });
  let limiter: SharedLimiter | undefined;
  let okta: OktaClient | undefined;
  let oktaPoll: OktaClient | undefined;
  let oktaOther: OktaClient | undefined;
  let control: ControlWorker | undefined;
  const closers: Array<() => void> = [];

  if (runWorkers && !opts.tasks) throw new Error('startRuntime: workers need their tasks (jobs/index.ts)');
  if (runWorkers && opts.tasks) {
    const tasks = opts.tasks;
    limiter = await openLimiter(config, logger, { systemLog: true });
    // The API token, or the service app's key and each access token it is issued: masked in every log line.
    const auth = openAuth(config, logger);
    okta = openOkta(config, logger, auth, limiter.lane('enroll'));
    oktaOther = openOkta(config, logger, auth, limiter.lane('other'));
    oktaPoll = openOkta(config, logger, auth, limiter.lane('poll'));

    const exporter = config.exportActivation ? openActivationExport(config.exportActivation, (m) => logger.warn(m)) : undefined;
    if (exporter) closers.push(() => exporter.close());
    const deps: JobDeps = {
      exportActivation: exporter ? (e) => exporter.write(e) : undefined,
      store,
      okta,
      oktaPoll,
      logger,
      now: () => Date.now(),
      onFatal,
      stopRun: async (runId, reason) => {
        const change = await store.setState(runId, 'stopped', reason);
        if (change.ok) logger.error(`run ${runId} stopped: ${reason}`, { runId });
      },
      pausedUntil: (bucket) => limiter?.pausedUntil(bucket) ?? null,
      schedulePoll: async (runId, row, at) => {
        const meta = await store.getMeta(runId, 10_000);
        await pollQueue.add('poll', { runId, row }, { jobId: jobIds.poll(runId, row), delay: Math.max(0, at - Date.now()), attempts: meta?.settings.attempts ?? 8 });
      },
      requeueEnroll: async (runId, row) => {
        await enrollQueue.add('enroll', { runId, row }, { jobId: jobIds.enroll(runId, row) });
      },
    };

    const backoffStrategy = async (attemptsMade: number, _type?: string, _err?: Error, job?: { data?: RowJobData }) => {
      const meta = job?.data?.runId ? await store.getMeta(job.data.runId, 30_000) : undefined;
      return retryDelay(attemptsMade, meta?.settings.retryBaseMs ?? 1000);
    };

    const makeWorker = (name: 'enroll' | 'poll', handler: RowTask) => {
      const warnedLost = new Map<string, number>();
      const worker: Worker<RowJobData> = new Worker<RowJobData>(
        name,
        async (job: Job<RowJobData>, token?: string, signal?: AbortSignal) => {
          const lockKey = `${config.prefix}:${name}:${job.id}:lock`;
          const ctx: JobContext = {
            kind: name,
            attemptsMade: job.attemptsMade,
            maxAttempts: job.opts.attempts ?? 1,
            ...(signal ? { signal } : {}),
            logger: logger.child({ runId: job.data.runId, row: job.data.row, jobId: job.id }),
            // One GET of BullMQ's lock key: the token is ours, or another worker has the job (or nobody: it stalled).
            lockHeld: async () => !signal?.aborted && token !== undefined && (await redis.get(lockKey)) === token,
            delayUntil: async (at: number) => {
              await job.moveToDelayed(Math.max(Date.now() + 1, Math.round(at)), token);
              throw new DelayedError();
            },
          };
          await handler(job.data, ctx, deps);
        },
        {
          connection: redis,
          prefix: config.prefix,
          concurrency: config.concurrency,
          removeOnComplete: { count: 0 },
          removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
          maxStalledCount: 2,
          stalledInterval: config.stalledIntervalMs,
          lockDuration: config.lockDurationMs,
          settings: { backoffStrategy },
          ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
        },
      );
      // Errors tell the guard when Redis refuses writes (a full Redis answers OOM).
      worker.on('error', (err) => {
        guard.noteError(err);
        logger.debug(`${name} worker error`, { error: err.message });
      });
      worker.on('lockRenewalFailed', (jobIds) => {
        // This worker was paused past its lock (a GC pause, a suspended VM, SIGSTOP): another worker
        // may have the job now. Drop its requests; the row lifecycle checks for a racing duplicate.
        for (const id of jobIds) {
          if (!worker.cancelJob(id, 'the job lost its lock')) continue;
          const last = warnedLost.get(id) ?? 0;
          if (Date.now() - last > 60_000) {
            warnedLost.set(id, Date.now());
            logger.warn(`lost the lock of ${name} job ${id} (this worker was paused or cut off from Redis longer than the lock duration); its requests are dropped and another worker takes it over`, { jobId: id });
          }
        }
        if (warnedLost.size > 10_000) warnedLost.clear();
      });
      worker.on('failed', (job, err) => {
        guard.noteError(err);
        if (!job?.data?.runId || err instanceof DelayedError) return;
        void (async () => {
          const state = await job.getState().catch(() => 'unknown');
          if (state !== 'failed') return; // it will be retried
          const [e, p] = await Promise.all([
            enrollQueue.getJobState(jobIds.enroll(job.data.runId, job.data.row)),
            pollQueue.getJobState(jobIds.poll(job.data.runId, job.data.row)),
          ]);
          await reconciler.settleOrphan(job.data.runId, job.data.row, e, p);
        })().catch((e2) => logger.debug('failed-job settlement deferred to the reconciler', { error: (e2 as Error).message }));
      });
      workers.push(worker);
      return worker;
    };
    makeWorker(QUEUES.enroll, tasks.enroll);
    makeWorker(QUEUES.poll, tasks.poll);
    if (opts.control) {
      if (!tasks.nightly) throw new Error('startRuntime: the control queue needs the nightly task');
      control = startControlWorker({ config, logger, store, redis, okta, nightly: tasks.nightly, ...(typeof opts.control === 'object' ? opts.control : {}) });
    }
  }
  // Calls and 429s of this process, for `status --watch` and the dashboard on other machines.
  const callStats = limiter ? publishCallStats(redis, config.prefix, () => countersOf(limiter?.stats()), { budgetPerMinute: config.rateLimit }) : undefined;
  // Waits longer than a progress interval are said, not left to look like a hang.
  if (limiter) {
    const slow = setInterval(() => {
      const message = slowMessage(limiter!.stats().slow);
      if (message) logger.info(message);
    }, SLOW_REPORT_MS);
    slow.unref();
    closers.push(() => clearInterval(slow));
  }

  // Feeder and reconciler loops (only in processes that run workers).
  let stopping = false;
  let lastLogPass: number | undefined;
  let feeding: Promise<void> | undefined;
  const tick = async () => {
    if (stopping || redisFull) return;
    const runs = await store.activeRuns();
    for (const runId of runs) runsSeen.add(runId);
    for (const runId of runs) {
      guard.noteFed(runId, (await feedRun(store, enrollQueue, runId, config.maxInFlight)).fed);
    }
  };
  const reconcileNow = async (o: { immediate?: boolean; runId?: string } = {}) => {
    if (!o.immediate) {
      const got = await redis.set(store.global.reconcileLock, String(process.pid), 'PX', Math.max(1000, (opts.reconcileIntervalMs ?? config.reconcileIntervalMs) - 500), 'NX');
      if (got !== 'OK') return;
    }
    for (const runId of o.runId ? [o.runId] : await store.activeRuns()) await reconciler.reconcileRun(runId, { immediate: o.immediate });
  };
  const timers: NodeJS.Timeout[] = [];
  if (runWorkers) {
    timers.push(
      setInterval(() => {
        if (feeding || stopping) return;
        feeding = tick()
          .catch((err: unknown) => {
            guard.noteError(err);
            logger.debug('feeder pass failed', { error: (err as Error).message });
          })
          .finally(() => {
            feeding = undefined;
          });
      }, opts.feedIntervalMs ?? 200),
    );
    let watching = false;
    lastLogPass = Date.now();
    timers.push(
      setInterval(() => {
        if (watching || stopping || !oktaOther) return;
        watching = true;
        (async () => {
          for (const runId of await store.activeRuns()) {
            await watchRunLog(store, oktaOther!, pollQueue, runId, logger, Math.max(5000, 3 * config.logIntervalMs));
          }
          lastLogPass = Date.now();
        })()
          .catch((err: unknown) => {
            logger.debug('System Log pass failed', { error: (err as Error).message });
          })
          .finally(() => {
            watching = false;
          });
      }, config.logIntervalMs),
    );
    let reconciling = false;
    timers.push(
      setInterval(() => {
        if (reconciling || stopping) return;
        reconciling = true;
        reconcileNow()
          .catch((err: unknown) => {
            logger.debug('reconcile pass failed', { error: (err as Error).message });
          })
          .finally(() => {
            reconciling = false;
          });
      }, opts.reconcileIntervalMs ?? config.reconcileIntervalMs),
    );
  }

  const close = async () => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearInterval(t);
    watchdog.stop();
    guard.stop();
    const timeoutMs = redis.status === 'ready' ? (opts.closeTimeoutMs ?? 30_000) + 5000 : 2000;
    // With Redis gone, closing can wait forever: bound it, then cut the connections.
    const done = await Promise.race([
      orderlyClose().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
    ]);
    if (!done) logger.warn('closing took too long (Redis unreachable?); connections cut');
    for (const c of closers) c();
    redis.disconnect();
  };

  const orderlyClose = async () => {
    await feeding;
    await control?.close();
    const timeout = opts.closeTimeoutMs ?? 30_000;
    // A full Redis cannot record what active jobs finish, an emptied one has nothing to record them in:
    // hand them back at once (a close() already waiting for its jobs would make close(true) wait too).
    const handBack = fatalError instanceof RedisFullError || fatalError instanceof RedisRecordsLostError;
    if (!handBack) {
      await Promise.race([
        Promise.all(workers.map((w) => w.close())),
        new Promise<void>((r) => setTimeout(r, timeout).unref()),
      ]);
    }
    await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
    await Promise.all([enrollQueue.close().catch(() => undefined), pollQueue.close().catch(() => undefined)]);
    await callStats?.stop();
    await okta?.close().catch(() => undefined);
    await oktaPoll?.close().catch(() => undefined);
    await oktaOther?.close().catch(() => undefined);
    await limiter?.close().catch(() => undefined);
  };

  return { store, redis, enrollQueue, pollQueue, limiter, okta, fatal, ...(runWorkers ? { lastLogPassAt: () => lastLogPass } : {}), tick, reconcileNow, close };
}

/** redis://user:pass@host → redis://host (for messages). */
export { redactUrl } from '../redis/settings.js';
