/**
 * The shared rate limiter: one budget per Okta bucket for every worker process on one
 * Redis. It is the RequestGate the Okta client calls around every request.
 *
 * Two layers:
 * - In each process, Bottleneck schedules: one local limiter per bucket and lane queues
 *   that lane's requests in order and bounds how many of them wait for or hold a permit
 *   (the cluster-wide concurrency cap), so a burst of jobs never turns into a burst of
 *   Redis calls or sockets. Bottleneck's local datastore yields to a timer on every
 *   step under a lock, which caps one limiter at roughly 400 jobs/s whatever its
 *   settings (measured here); so a bucket configured above BOTTLENECK_MAX_PER_MINUTE
 *   (limits lifted) skips it and queues in bucket-gate.ts only, which does the same
 *   FIFO queueing and is bounded by the same cluster cap.
 * - Across processes, small Lua scripts (scripts.ts) keep the budget: an evenly paced
 *   token bucket (GCRA) whose pace follows Okta's X-Rate-Limit-* headers, the current
 *   window's count, a cluster-wide pause, an AIMD cap on requests in flight held as
 *   leases that expire, and the poll lane's reserved share. bucket-gate.ts batches a
 *   process's requests into one round trip at a time.
 *
 * Why not Bottleneck's own cluster mode for the budget: its reservoir refreshes on a
 * fixed interval that cannot follow Okta's unaligned windows (updateSettings from many
 * processes races), its recovery re-creates a full reservoir (a burst right after a
 * Redis restart), its priorities are per process, and it costs three script calls per
 * request. bottleneck-redis.ts keeps its cluster mode usable (the Redis 7 fix) for code
 * that wants it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Bottleneck from 'bottleneck';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyRateLimit } from '../okta/rate-limit-headers.js';
import type { Bucket, RateLimitInfo, RequestGate } from '../okta/types.js';
import { BucketGate, MAIN, POLL, type BucketStats, type LaneIndex, type LimiterRedis } from './bucket-gate.js';
import { ACQUIRE_LUA, PAUSE_LUA } from './scripts.js';

export { LimiterClosedError, type BucketStats } from './bucket-gate.js';
export {
  clusterBottleneckId,
  createClusterBottleneck,
  fixRedis7ScriptErrors,
  normaliseBottleneckError,
  type ClusterBottleneck,
  type ClusterBottleneckOptions,
} from './bottleneck-redis.js';

export interface BucketBudget {
  /** Upper bound and starting point, calls per minute, cluster-wide. */
  ratePerMinute: number;
  /** Upper bound on requests in flight to this bucket, cluster-wide. */
  maxConcurrent: number;
}

export type Lane = 'enroll' | 'poll' | 'other';

export interface SharedLimiterOptions {
  /** The limiter opens its own connection. */
  redisUrl: string;
  /** Opens that connection with these options (default: `new Redis(redisUrl, options)`): the runner's factory, for TLS and Sentinel. */
  connect?: (options: RedisOptions) => Redis;
  /** Key namespace; every key and process id carries it. */
  prefix: string;
  /** Configured upper bounds; missing buckets get DEFAULT_BUDGETS. */
  buckets: Partial<Record<Bucket, BucketBudget>>;
  /** Share of a bucket's budget reserved for the poll lane when both lanes want it (default 0.3). */
  pollShare?: number;
  logger?: Logger;
  /**
   * How long a process's concurrency slots outlive its last word with Redis (default
   * 30 s; renewed every third of it while requests are in flight). A crashed process's
   * slots come back after this.
   */
  leaseMs?: number;
  /** After a concurrency 429 halves the cap, it grows back by one every capStepMs (default 2000). */
  capStepMs?: number;
  /** Tokens one round trip may take: about this many ms worth of budget (default 50, at most maxBatch). */
  batchWindowMs?: number;
  /** Default 64. */
  maxBatch?: number;
}

export interface LimiterStats {
  granted: number;
  roundTrips: number;
  waitedMs: number;
  rateLimited: { bucket: number; concurrency: number; resource: number };
  buckets: Partial<Record<Bucket, BucketStats>>;
}

export interface SharedLimiter extends RequestGate {
  /** Every answer's X-Rate-Limit-* headers (429s included, before the error is thrown). */
  observe(bucket: Bucket, info: RateLimitInfo | undefined, status: number, errorCode?: string): void;
  /** The same limiter; requests through it are tagged with a lane (the poll lane has a reserved share). */
  lane(name: Lane): RequestGate;
  /** Every worker stops sending to the bucket until then (epoch ms, local clock). */
  pauseUntil(bucket: Bucket, epochMs: number): Promise<void>;
  stats(): LimiterStats;
  close(): Promise<void>;
}

export const DEFAULT_BUDGETS: Readonly<Record<Bucket, BucketBudget>> = {
  factors: { ratePerMinute: 300, maxConcurrent: 20 },
  users: { ratePerMinute: 300, maxConcurrent: 20 },
  groups: { ratePerMinute: 300, maxConcurrent: 20 },
  logs: { ratePerMinute: 60, maxConcurrent: 2 },
  oauth: { ratePerMinute: 300, maxConcurrent: 2 },
};

const BUCKETS = Object.keys(DEFAULT_BUDGETS) as Bucket[];
const LANES: readonly Lane[] = ['enroll', 'poll', 'other'];
const KEY_TTL_MS = 10 * 60_000;
/** Above 150 calls/s per bucket requests skip the per-request Bottleneck (see the top of this file). */
export const BOTTLENECK_MAX_PER_MINUTE = 9000;
const CAP_COOLDOWN_MS = 1000;

/** Redis keys of one bucket (one hash tag, so a Redis Cluster keeps them on one slot). */
export function limiterKeys(prefix: string, bucket: Bucket): { state: string; held: string; alive: string } {
  const base = `${prefix}:limiter:{${bucket}}`;
  return { state: `${base}:state`, held: `${base}:held`, alive: `${base}:alive` };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Every problem with the options at once, p-queue style. */
export function validateLimiterOptions(opts: SharedLimiterOptions): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, path: string, what: string, got: unknown): void => {
    if (!ok) problems.push(`limiter ${path}: expected ${what}, got \`${describe(got)}\``);
  };
  expect(typeof opts.redisUrl === 'string' && opts.redisUrl.length > 0, 'redisUrl', 'a redis:// URL', opts.redisUrl);
  expect(typeof opts.prefix === 'string' && opts.prefix.length > 0 && !/\s/.test(opts.prefix), 'prefix', 'a non-empty key prefix without spaces', opts.prefix);
  for (const [bucket, budget] of Object.entries(opts.buckets ?? {})) {
    if (!BUCKETS.includes(bucket as Bucket)) {
      problems.push(`limiter buckets.${bucket}: expected one of ${BUCKETS.join(', ')}, got \`${bucket}\``);
      continue;
    }
    if (!budget) continue;
    const r = budget.ratePerMinute;
    expect(typeof r === 'number' && Number.isFinite(r) && r > 0, `buckets.${bucket}.ratePerMinute`, 'a finite number > 0', r);
    const c = budget.maxConcurrent;
    expect(Number.isInteger(c) && c >= 1, `buckets.${bucket}.maxConcurrent`, 'an integer >= 1', c);
  }
  if (opts.pollShare !== undefined) {
    const s = opts.pollShare;
    expect(typeof s === 'number' && s >= 0 && s < 1, 'pollShare', 'a number >= 0 and < 1', s);
  }
  const positive = (v: number | undefined, path: string, min: number): void => {
    if (v !== undefined) expect(typeof v === 'number' && Number.isFinite(v) && v >= min, path, `a finite number >= ${min}`, v);
  };
  positive(opts.leaseMs, 'leaseMs', 100);
  positive(opts.capStepMs, 'capStepMs', 1);
  positive(opts.batchWindowMs, 'batchWindowMs', 0);
  if (opts.maxBatch !== undefined) expect(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1, 'maxBatch', 'an integer >= 1', opts.maxBatch);
  return problems;
}

class RedisSharedLimiter implements SharedLimiter {
  private readonly gates = new Map<Bucket, BucketGate>();
  /** bucket → lane → local scheduler */
  private readonly local = new Map<Bucket, Map<Lane, Bottleneck>>();
  private readonly budgets: Record<Bucket, BucketBudget>;
  private readonly laneGates = new Map<Lane, RequestGate>();
  private closed = false;
  readonly processId: string;

  constructor(
    private readonly redis: LimiterRedis,
    private readonly opts: SharedLimiterOptions,
  ) {
    this.budgets = { ...DEFAULT_BUDGETS };
    for (const b of BUCKETS) {
      const given = opts.buckets[b];
      if (given) this.budgets[b] = { ...given };
    }
    this.processId = `${opts.prefix}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    for (const lane of LANES) {
      this.laneGates.set(lane, {
        run: (bucket, fn) => this.runIn(lane, bucket, fn),
        observe: (bucket, info, status) => this.observe(bucket, info, status),
      });
    }
  }

  run<T>(bucket: Bucket, fn: () => Promise<T>): Promise<T> {
    return this.runIn('other', bucket, fn);
  }

  lane(name: Lane): RequestGate {
    const gate = this.laneGates.get(name);
    if (!gate) throw new TypeError(`Expected a lane of ${LANES.join(', ')}, got \`${describe(name)}\``);
    return gate;
  }

  observe(bucket: Bucket, info: RateLimitInfo | undefined, status: number, _errorCode?: string): void {
    if (!info) return;
    if (this.closed) return;
    const gate = this.gate(bucket);
    gate.observe(info);
    if (status !== 429) return;
    const kind = classifyRateLimit(info);
    gate.count429(kind);
    if (kind === 'bucket') {
      // Every worker stops until the reset; resumes are jittered per process and paced.
      const until = Date.now() + info.resetInMs;
      gate.pause(until).catch((err: unknown) => {
        this.opts.logger?.warn('rate limiter: could not share a bucket pause through Redis', {
          bucket,
          error: err instanceof Error ? err.message : String(err),
        });
      });
    }
    // concurrency: the cap goes down cluster-wide (count429 signals it); resource: the job waits, not the bucket.
  }

  async pauseUntil(bucket: Bucket, epochMs: number): Promise<void> {
    if (!Number.isFinite(epochMs)) throw new TypeError(`Expected pauseUntil's epochMs to be a finite number, got \`${describe(epochMs)}\``);
    await this.gate(bucket).pause(epochMs);
  }

  stats(): LimiterStats {
    const out: LimiterStats = { granted: 0, roundTrips: 0, waitedMs: 0, rateLimited: { bucket: 0, concurrency: 0, resource: 0 }, buckets: {} };
    for (const [bucket, gate] of this.gates) {
      const s = gate.snapshot();
      out.buckets[bucket] = s;
      out.granted += s.granted;
      out.roundTrips += s.roundTrips;
      out.waitedMs += s.waitedMs;
      out.rateLimited.bucket += s.rateLimited.bucket;
      out.rateLimited.concurrency += s.rateLimited.concurrency;
      out.rateLimited.resource += s.rateLimited.resource;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lanes of this.local.values()) {
      for (const bn of lanes.values()) {
        // Drops queued requests; requests already sent finish on their own (their
        // completion is not awaited: an HTTP timeout must not hold up shutdown).
        bn.stop({ dropWaitingJobs: true, dropErrorMessage: 'The shared rate limiter was closed before this request could be sent' }).catch(() => undefined);
      }
    }
    await Promise.all([...this.gates.values()].map((g) => g.close()));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ---- internals ----

  private runIn<T>(lane: Lane, bucket: Bucket, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`The shared rate limiter is closed: no more requests to the ${bucket} bucket`));
    const gate = this.gate(bucket);
    const laneIndex: LaneIndex = lane === 'poll' ? POLL : MAIN;
    const permitted = async (): Promise<T> => {
      await gate.acquire(laneIndex);
      try {
        return await fn();
      } finally {
        gate.release();
      }
    };
    if (this.budgets[bucket].ratePerMinute > BOTTLENECK_MAX_PER_MINUTE) return permitted();
    return this.scheduler(bucket, lane).schedule(permitted);
  }

  private gate(bucket: Bucket): BucketGate {
    let gate = this.gates.get(bucket);
    if (!gate) {
      if (!BUCKETS.includes(bucket)) throw new TypeError(`Expected an Okta bucket of ${BUCKETS.join(', ')}, got \`${describe(bucket)}\``);
      const budget = this.budgets[bucket];
      gate = new BucketGate(this.redis, {
        bucket,
        keys: limiterKeys(this.opts.prefix, bucket),
        processId: this.processId,
        ratePerMinute: budget.ratePerMinute,
        maxConcurrent: budget.maxConcurrent,
        pollShare: this.opts.pollShare ?? 0.3,
        leaseMs: this.opts.leaseMs ?? 30_000,
        keyTtlMs: Math.max(KEY_TTL_MS, 3 * (this.opts.leaseMs ?? 30_000)),
        batchWindowMs: this.opts.batchWindowMs ?? 50,
        maxBatch: this.opts.maxBatch ?? 64,
        capStepMs: this.opts.capStepMs ?? 2000,
        capCooldownMs: CAP_COOLDOWN_MS,
        logger: this.opts.logger,
        onCap: (cap) => {
          for (const bn of this.local.get(bucket)?.values() ?? []) bn.updateSettings({ maxConcurrent: cap });
          this.opts.logger?.debug('rate limiter: concurrency cap', { bucket, cap });
        },
      });
      this.gates.set(bucket, gate);
    }
    return gate;
  }

  private scheduler(bucket: Bucket, lane: Lane): Bottleneck {
    let lanes = this.local.get(bucket);
    if (!lanes) {
      lanes = new Map();
      this.local.set(bucket, lanes);
    }
    let bn = lanes.get(lane);
    if (!bn) {
      const cap = this.gates.get(bucket)?.snapshot().concurrencyCap ?? this.budgets[bucket].maxConcurrent;
      // In-process only (no datastore): queueing in arrival order and a per-process bound.
      bn = new Bottleneck({ maxConcurrent: cap, id: `${this.opts.prefix}:${bucket}:${lane}` });
      bn.on('error', (err: unknown) => {
        this.opts.logger?.warn('rate limiter: local scheduler error', { bucket, lane, error: err instanceof Error ? err.message : String(err) });
      });
      lanes.set(lane, bn);
    }
    return bn;
  }
}

/** Opens the limiter's Redis connection and checks it answers; throws ConfigError for bad options. */
export async function createSharedLimiter(opts: SharedLimiterOptions): Promise<SharedLimiter> {
  const problems = validateLimiterOptions(opts);
  if (problems.length) throw new ConfigError(problems);
  const options: RedisOptions = {
    // RESP2: the scripts' array replies arrive as plain arrays whatever the server default.
    protocol: 2,
    connectionName: `${opts.prefix}:limiter`,
    enableAutoPipelining: true,
  };
  const redis = (opts.connect ? opts.connect(options) : new Redis(opts.redisUrl, options)) as LimiterRedis;
  redis.on('error', (err: Error) => {
    opts.logger?.debug('rate limiter: Redis connection error', { error: err.message });
  });
  redis.defineCommand('limiterAcquire', { numberOfKeys: 3, lua: ACQUIRE_LUA });
  redis.defineCommand('limiterPause', { numberOfKeys: 1, lua: PAUSE_LUA });
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return new RedisSharedLimiter(redis, opts);
}
