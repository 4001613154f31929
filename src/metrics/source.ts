/**
 * What the metrics and health endpoint reads from a running process, as a small
 * interface: the run store, the Redis connection, the two queues, the shared limiter's
 * counters, whether the process is stopping, and when the System Log watcher last
 * finished a pass. The runtime only has to hand these over (metricsSourceOf); nothing
 * here changes state.
 */
import type { Redis } from 'ioredis';
import type { Bucket } from '../okta/types.js';
import type { LimiterStats } from '../limiter/index.js';
import type { RunCounts, RunMeta } from '../runs/store.js';

/** The run-store reads the metrics need (RunStore has them). */
export interface RunsReader {
  activeRuns(): Promise<string[]>;
  listRuns(limit?: number): Promise<string[]>;
  getMeta(runId: string): Promise<Pick<RunMeta, 'id' | 'state' | 'total' | 'stored' | 'fed' | 'finishedAt'> | undefined>;
  counts(runId: string): Promise<RunCounts>;
  inflightCount(runId: string): Promise<number>;
}

/** BullMQ's own counts of a queue (Queue has them). */
export interface JobCountsReader {
  readonly name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

export interface MetricsSource {
  /** Key namespace (cluster-wide counters published by every worker live under it). */
  prefix: string;
  store: RunsReader;
  /** The process's Redis connection: PINGed for health, read for cluster counters. */
  redis: Redis;
  enrollQueue: JobCountsReader;
  pollQueue: JobCountsReader;
  /** The shared limiter's counters in this process (undefined: no workers here). */
  limiterStats?: () => LimiterStats | undefined;
  /** Configured calls per minute per Okta bucket, cluster-wide. */
  budgets: Partial<Record<Bucket, number>>;
  /** True once a stop was requested: /healthz answers 503. */
  shuttingDown: () => boolean;
  /** When the System Log watcher last finished a pass (epoch ms); absent: no watcher in this process. */
  lastLogPassAt?: () => number | undefined;
}

/** The parts of a started runtime (src/queue/runtime.ts) the source is made of. */
export interface RuntimeLike {
  readonly store: RunsReader;
  readonly redis: Redis;
  readonly enrollQueue: JobCountsReader;
  readonly pollQueue: JobCountsReader;
  readonly limiter?: { stats(): LimiterStats };
  readonly lastLogPassAt?: () => number | undefined;
}

export interface ProcessBudgets {
  prefix: string;
  rateLimit: number;
  usersRateLimit: number;
  logsRateLimit: number;
}

export function metricsSourceOf(runtime: RuntimeLike, config: ProcessBudgets, shuttingDown: () => boolean): MetricsSource {
  const limiter = runtime.limiter;
  return {
    prefix: config.prefix,
    store: runtime.store,
    redis: runtime.redis,
    enrollQueue: runtime.enrollQueue,
    pollQueue: runtime.pollQueue,
    ...(limiter ? { limiterStats: () => limiter.stats() } : {}),
    // The same budgets startRuntime gives the limiter.
    budgets: { factors: config.rateLimit, users: config.usersRateLimit, groups: config.usersRateLimit, logs: config.logsRateLimit },
    shuttingDown,
    ...(runtime.lastLogPassAt ? { lastLogPassAt: runtime.lastLogPassAt } : {}),
  };
}
