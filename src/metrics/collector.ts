/**
 * The Prometheus metrics of one process (prom-client, its own registry). Values are
 * read from a MetricsSource when scraped (update()), plus a sampler every few seconds
 * that turns the limiter's cumulative counters into calls per minute. Names, types and
 * labels are documented in docs/deploy.md; the label sets are small and fixed except
 * run_id, which covers only active runs and runs finished in the last few minutes.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RateMeter, readCallStats } from '../progress.js';
import type { Bucket } from '../okta/types.js';
import type { MetricsSource } from './source.js';

const BUCKETS: readonly Bucket[] = ['factors', 'users', 'groups', 'logs', 'oauth'];
const KINDS = ['bucket', 'concurrency', 'resource'] as const;
/** BullMQ's job states, as getJobCounts names them. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'failed', 'completed'] as const;
/** A row is in exactly one of these: sums to the run's rows. */
export const ROW_STATES = ['queued', 'in_flight', 'activated', 'expired', 'failed'] as const;
/** Finished runs stay in the run metrics this long, so their final counts are scraped at least once. */
export const FINISHED_RUN_VISIBLE_MS = 10 * 60_000;
const RECENT_RUNS = 20;
const SAMPLE_MS = 5000;
const WINDOW_MS = 60_000;
/** Each group of Redis reads gives up after this long (a scrape must answer while Redis is away). */
const READ_TIMEOUT_MS = 2000;

export class RedisTimeoutError extends Error {}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new RedisTimeoutError(`${what}: no answer within ${ms} ms`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface RedisPing {
  up: boolean;
  seconds?: number;
  /** Why it is down. */
  reason?: string;
}

/**
 * One PING on the process's own connection, bounded. While the connection is being
 * (re)established the PING waits in ioredis' offline queue, at most `timeoutMs`.
 */
export async function pingRedis(source: Pick<MetricsSource, 'redis'>, timeoutMs = READ_TIMEOUT_MS): Promise<RedisPing> {
  const status = source.redis.status;
  if (status === 'end' || status === 'close') return { up: false, reason: `the Redis connection is closed (${status})` };
  const started = process.hrtime.bigint();
  try {
    await withTimeout(source.redis.ping(), timeoutMs, 'Redis PING');
    return { up: true, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } catch (err) {
    return { up: false, reason: status === 'ready' ? (err as Error).message : `${(err as Error).message}; connection ${source.redis.status}` };
  }
}

export interface MetricsCollector {
  readonly registry: Registry;
  /** Read everything from the source into the metrics (call before each scrape). */
  update(): Promise<void>;
  stop(): void;
}

export function createCollector(source: MetricsSource, opts: { version: string; sampleMs?: number } = { version: '0.0.0' }): MetricsCollector {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];

  new Gauge({ name: 'bulk_enroll_info', help: 'Always 1; labels carry the version of bulk-enroll and Node.js', labelNames: ['version', 'node'], registers: r }).set(
    { version: opts.version, node: process.versions.node },
    1,
  );
  const shuttingDown = new Gauge({ name: 'bulk_enroll_shutting_down', help: '1 once a stop was requested (SIGTERM / SIGINT)', registers: r });
  const redisUp = new Gauge({ name: 'bulk_enroll_redis_up', help: '1 when Redis answered a PING on this process\'s connection', registers: r });
  const redisPing = new Gauge({ name: 'bulk_enroll_redis_ping_seconds', help: 'Round-trip time of one Redis PING', registers: r });

  const calls = new Counter({ name: 'bulk_enroll_okta_calls_total', help: 'Okta requests sent by this process (permits granted by the shared limiter)', labelNames: ['bucket'], registers: r });
  const limited = new Counter({
    name: 'bulk_enroll_okta_rate_limited_total',
    help: '429 answers from Okta to this process, by bucket and kind (bucket: the rate window; concurrency: too many in flight; resource: one factor or user)',
    labelNames: ['bucket', 'kind'],
    registers: r,
  });
  const callsPerMinute = new Gauge({ name: 'bulk_enroll_okta_calls_per_minute', help: 'Okta requests of this process over the last minute', labelNames: ['bucket'], registers: r });
  const budget = new Gauge({ name: 'bulk_enroll_okta_budget_per_minute', help: 'Configured limit, calls per minute, shared by every process on this Redis', labelNames: ['bucket'], registers: r });
  const pace = new Gauge({
    name: 'bulk_enroll_okta_pace_per_minute',
    help: 'Pace the shared limiter grants at now, calls per minute cluster-wide (the budget, or slower when Okta\'s headers say so)',
    labelNames: ['bucket'],
    registers: r,
  });
  const windowLimit = new Gauge({ name: 'bulk_enroll_okta_window_limit', help: 'Okta\'s X-Rate-Limit-Limit for the current window, as last seen', labelNames: ['bucket'], registers: r });
  const inFlight = new Gauge({ name: 'bulk_enroll_okta_in_flight', help: 'Okta requests of this process in flight', labelNames: ['bucket'], registers: r });
  const waiting = new Gauge({ name: 'bulk_enroll_okta_waiting', help: 'Okta requests of this process waiting for a permit', labelNames: ['bucket'], registers: r });
  const cap = new Gauge({ name: 'bulk_enroll_okta_concurrency_cap', help: 'Cluster-wide cap on requests in flight, as last seen (lowered after concurrency 429s)', labelNames: ['bucket'], registers: r });
  const paused = new Gauge({ name: 'bulk_enroll_okta_paused', help: '1 while the bucket is paused cluster-wide after a bucket 429 (until X-Rate-Limit-Reset)', labelNames: ['bucket'], registers: r });
  const clusterCallsPerMinute = new Gauge({
    name: 'bulk_enroll_cluster_okta_calls_per_minute',
    help: 'Okta requests of every process on this Redis over the last minute (from the counters each worker publishes)',
    registers: r,
  });
  const clusterProcesses = new Gauge({ name: 'bulk_enroll_cluster_processes', help: 'Processes that published call counters on this Redis in the last hour', registers: r });

  const queueJobs = new Gauge({ name: 'bulk_enroll_queue_jobs', help: 'Jobs per BullMQ queue and state (getJobCounts)', labelNames: ['queue', 'state'], registers: r });
  const runsActive = new Gauge({ name: 'bulk_enroll_runs_active', help: 'Runs with rows still to finish', registers: r });
  const runRows = new Gauge({
    name: 'bulk_enroll_run_rows',
    help: 'Rows of a run by state: queued (not yet handed to a worker), in_flight, or the outcome (activated, expired, failed)',
    labelNames: ['run_id', 'state'],
    registers: r,
  });
  const runSize = new Gauge({ name: 'bulk_enroll_run_size_rows', help: 'Rows in the run (while a group is still being read: rows stored so far)', labelNames: ['run_id'], registers: r });
  const runFinished = new Gauge({ name: 'bulk_enroll_run_finished', help: '1 once every row of the run has an outcome', labelNames: ['run_id'], registers: r });
  const logLag = new Gauge({
    name: 'bulk_enroll_log_watcher_lag_seconds',
    help: 'Seconds since this process\'s System Log watcher last finished a pass (grows while passes fail)',
    registers: r,
  });
  const scrapeErrors = new Counter({ name: 'bulk_enroll_metrics_read_errors_total', help: 'Scrapes in which a group of values could not be read from Redis', labelNames: ['part'], registers: r });

  // Calls per minute: cumulative counters sampled every few seconds over a one-minute window.
  const meters = new Map<Bucket, RateMeter>(BUCKETS.map((b) => [b, new RateMeter(WINDOW_MS)]));
  const clusterMeter = new RateMeter(WINDOW_MS);
  let clusterSeen: { calls: number; processes: number } | undefined;
  const sampleLocal = (now: number) => {
    const s = source.limiterStats?.();
    if (!s) return undefined;
    for (const b of BUCKETS) meters.get(b)!.sample(s.buckets[b]?.granted ?? 0, now);
    return s;
  };
  const sampleCluster = async (now: number) => {
    if (source.redis.status !== 'ready') return;
    const c = await withTimeout(readCallStats(source.redis, source.prefix), READ_TIMEOUT_MS, 'cluster call counters');
    clusterMeter.sample(c.calls, now);
    clusterSeen = { calls: c.calls, processes: c.processes };
  };
  const sampler = setInterval(() => {
    const now = Date.now();
    sampleLocal(now);
    void sampleCluster(now).catch(() => undefined);
  }, opts.sampleMs ?? SAMPLE_MS);
  sampler.unref();

  const readRuns = async () => {
    const [active, recent] = await Promise.all([source.store.activeRuns(), source.store.listRuns(RECENT_RUNS)]);
    const ids = [...new Set([...active, ...recent])];
    const now = Date.now();
    const rows: Array<{ id: string; size: number; finished: boolean; states: Record<(typeof ROW_STATES)[number], number> }> = [];
    for (const id of ids) {
      const meta = await source.store.getMeta(id);
      if (!meta || meta.state === 'enqueuing') continue;
      const finished = meta.state === 'finished';
      if (finished && !active.includes(id) && !(meta.finishedAt && now - Date.parse(meta.finishedAt) <= FINISHED_RUN_VISIBLE_MS)) continue;
      const [c, inflight] = await Promise.all([source.store.counts(id), source.store.inflightCount(id)]);
      const size = meta.total ?? meta.stored;
      rows.push({
        id,
        size,
        finished,
        states: { queued: Math.max(0, size - c.done - inflight), in_flight: inflight, activated: c.activated, expired: c.expired, failed: c.failed },
      });
    }
    return { active: active.length, rows };
  };

  const update = async () => {
    const now = Date.now();
    shuttingDown.set(source.shuttingDown() ? 1 : 0);

    const ping = await pingRedis(source);
    redisUp.set(ping.up ? 1 : 0);
    // NaN while Redis does not answer: a gap in graphs, not a fast 0.
    redisPing.set(ping.seconds ?? Number.NaN);

    const stats = sampleLocal(now);
    calls.reset();
    limited.reset();
    for (const g of [callsPerMinute, budget, pace, windowLimit, inFlight, waiting, cap, paused]) g.reset();
    for (const b of BUCKETS) {
      const configured = source.budgets[b];
      if (configured !== undefined) budget.set({ bucket: b }, configured);
      const s = stats?.buckets[b];
      if (!s) {
        // Not used yet in this process: the counters start at 0 (so rate() has a first sample).
        if (stats && configured !== undefined) {
          calls.inc({ bucket: b }, 0);
          for (const k of KINDS) limited.inc({ bucket: b, kind: k }, 0);
          callsPerMinute.set({ bucket: b }, 0);
        }
        continue;
      }
      calls.inc({ bucket: b }, s.granted);
      for (const k of KINDS) limited.inc({ bucket: b, kind: k }, s.rateLimited[k]);
      const perSec = meters.get(b)!.perSecond();
      callsPerMinute.set({ bucket: b }, perSec === undefined ? 0 : perSec * 60);
      if (s.intervalMs > 0) pace.set({ bucket: b }, 60_000 / s.intervalMs);
      if (s.windowLimit !== null) windowLimit.set({ bucket: b }, s.windowLimit);
      inFlight.set({ bucket: b }, s.inFlight);
      waiting.set({ bucket: b }, s.waiting);
      cap.set({ bucket: b }, s.concurrencyCap);
      paused.set({ bucket: b }, s.pausedUntil !== null && s.pausedUntil > now ? 1 : 0);
    }

    queueJobs.reset();
    runRows.reset();
    runSize.reset();
    runFinished.reset();
    if (ping.up) {
      const failed = (part: string) => () => scrapeErrors.inc({ part });
      await Promise.all([
        sampleCluster(now).catch(failed('cluster')),
        withTimeout(Promise.all([source.enrollQueue.getJobCounts(...QUEUE_STATES), source.pollQueue.getJobCounts(...QUEUE_STATES)]), READ_TIMEOUT_MS, 'queue counts')
          .then(([e, p]) => {
            for (const [queue, counts] of [[source.enrollQueue.name, e], [source.pollQueue.name, p]] as const) {
              for (const st of QUEUE_STATES) queueJobs.set({ queue, state: st }, counts[st] ?? 0);
            }
          })
          .catch(failed('queues')),
        withTimeout(readRuns(), READ_TIMEOUT_MS, 'run counts')
          .then((runs) => {
            runsActive.set(runs.active);
            for (const run of runs.rows) {
              runSize.set({ run_id: run.id }, run.size);
              runFinished.set({ run_id: run.id }, run.finished ? 1 : 0);
              for (const st of ROW_STATES) runRows.set({ run_id: run.id, state: st }, run.states[st]);
            }
          })
          .catch(failed('runs')),
      ]);
    }
    const perSec = clusterMeter.perSecond();
    if (clusterSeen) {
      clusterCallsPerMinute.set(perSec === undefined ? 0 : perSec * 60);
      clusterProcesses.set(clusterSeen.processes);
    }

    const last = source.lastLogPassAt?.();
    if (source.lastLogPassAt) logLag.set(last === undefined ? 0 : Math.max(0, (now - last) / 1000));
  };

  return {
    registry,
    update,
    stop: () => clearInterval(sampler),
  };
}
