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
 * Each request runs with its permit in an AsyncLocalStorage context, so the answer the
 * Okta client observes inside it is tied to when its request was granted: that is how
 * the cluster learns each window's phase (scripts.ts). A request still waiting can be
 * dropped with an AbortSignal; Okta's read-only mode (503 E0000010) pauses the bucket
 * like a bucket 429; pausedUntil() tells a job how long to park. docs/rate-limits.md
 * describes all of it for operators.
 *
 * Why not Bottleneck's own cluster mode for the budget: its reservoir refreshes on a
 * fixed interval that cannot follow Okta's unaligned windows (updateSettings from many
 * processes races), its recovery re-creates a full reservoir (a burst right after a
 * Redis restart), its priorities are per process, and it costs three script calls per
 * request. bottleneck-redis.ts keeps its cluster mode usable (the Redis 7 fix) for code
 * that wants it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Bottleneck from 'bottleneck';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyRateLimit } from '../okta/rate-limit-headers.js';
import type { Bucket, RateLimitInfo, RequestGate } from '../okta/types.js';
import { READ_ONLY_FIRST_PAUSE_MS } from './pacing.js';
import { BucketGate, MAIN, POLL, type BucketStats, type LaneIndex, type LimiterRedis, type PauseReason, type Permit } from './bucket-gate.js';
import { MAX_PAUSE_MS } from './pacing.js';
import { ACQUIRE_LUA, PAUSE_LUA } from './scripts.js';

export { LimiterClosedError, type BucketStats, type PauseReason } from './bucket-gate.js';
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

/** A connection the limiter may run its scripts on: a plain, Sentinel-backed or Cluster ioredis connection. */
export type LimiterConnection = Redis | Cluster;

export interface SharedLimiterOptions {
  /** The limiter opens its own connection to this URL (unless `connect` or `connection` is given). */
  redisUrl?: string;
  /** Opens that connection with the limiter's options: the runner's factory, for TLS and Sentinel. */
  connect?: (options: RedisOptions) => Redis;
  /**
   * Opens the limiter's connection instead of redisUrl (Sentinel, Cluster, TLS options…).
   * Called once; the limiter owns what it returns and closes it in close().
   */
  connection?: () => LimiterConnection;
  /**
   * Key namespace; every key and process id carries it. A prefix with its own `{tag}`
   * puts every bucket's keys in that one Redis Cluster slot; otherwise each bucket's keys
   * share the `{bucket}` slot.
   */
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
  /** Okta's read-only mode (503 E0000010): the first cluster-wide pause; it doubles with each further answer (default 30 s). */
  readOnlyFirstPauseMs?: number;
  /** After a concurrency 429 halves the cap, it grows back by one every capStepMs (default 2000). */
  capStepMs?: number;
  /** Tokens one round trip may take: about this many ms worth of budget (default 50, at most maxBatch). */
  batchWindowMs?: number;
  /** Default 64. */
  maxBatch?: number;
}

/** Requests that have waited long: the runtime says so ("Okta answers slowly: …"). */
export interface SlowCounts {
  /** Requests waiting for a permit for more than SLOW_MS. */
  waitingOver10s: number;
  /** Requests in flight (permit granted, no answer yet) for more than SLOW_MS. */
  inFlightOver10s: number;
}

export interface LimiterStats {
  granted: number;
  roundTrips: number;
  waitedMs: number;
  rateLimited: { bucket: number; concurrency: number; resource: number };
  /** Read-only answers (503 E0000010). */
  readOnly: number;
  slow: SlowCounts;
  buckets: Partial<Record<Bucket, BucketStats & { slow: SlowCounts }>>;
}

export interface SharedLimiter extends RequestGate {
  /**
   * Every answer: X-Rate-Limit-* headers (undefined when it had none), status, Okta's
   * errorCode. A bucket 429 pauses the bucket cluster-wide until the reset (clamped), a
   * concurrency 429 lowers the in-flight cap, 503 E0000010 (read-only) pauses it 30 s,
   * doubling, at most 5 minutes.
   */
  observe(bucket: Bucket, info: RateLimitInfo | undefined, status: number, errorCode?: string): void;
  /** The same limiter; requests through it are tagged with a lane (the poll lane has a reserved share). */
  lane(name: Lane): RequestGate;
  /** Every worker stops sending to the bucket until then (epoch ms, local clock; at most 5 minutes ahead). */
  pauseUntil(bucket: Bucket, epochMs: number): Promise<void>;
  /** When the bucket's cluster-wide pause ends (epoch ms, local clock), or null: for a job to park until then. */
  pausedUntil(bucket: Bucket): number | null;
  /** Why the bucket is paused, or null when it is not. */
  pauseReason(bucket: Bucket): PauseReason | null;
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

/** Okta's errorCode for read-only mode (503). */
export const READ_ONLY_ERROR_CODE = 'E0000010';
/** A request waiting or in flight longer than this counts as slow (stats().slow). */
export const SLOW_MS = 10_000;

const BUCKETS = Object.keys(DEFAULT_BUDGETS) as Bucket[];
const LANES: readonly Lane[] = ['enroll', 'poll', 'other'];
const KEY_TTL_MS = 10 * 60_000;
/** Above 150 calls/s per bucket requests skip the per-request Bottleneck (see the top of this file). */
export const BOTTLENECK_MAX_PER_MINUTE = 9000;
const CAP_COOLDOWN_MS = 1000;
const MAX_LEASE_MS = 60 * 60_000;

/**
 * Redis keys of one bucket. Every key carries the `{bucket}` hash tag, so a Redis Cluster
 * keeps a bucket's keys (the keys of every script call) on one slot; a prefix with its
 * own `{tag}` comes first in the key and wins, which puts all buckets on that slot.
 */
export function limiterKeys(prefix: string, bucket: Bucket): { state: string; held: string; alive: string } {
  const base = `${prefix}:limiter:{${bucket}}`;
  return { state: `${base}:state`, held: `${base}:held`, alive: `${base}:alive` };
}

/** "Okta answers slowly: …" for the runtime's log, or undefined when nothing is slow. */
export function slowMessage(slow: SlowCounts): string | undefined {
  const parts: string[] = [];
  const secs = SLOW_MS / 1000;
  if (slow.waitingOver10s > 0) parts.push(`${slow.waitingOver10s} request${slow.waitingOver10s === 1 ? '' : 's'} waiting more than ${secs} s for the rate limit`);
  if (slow.inFlightOver10s > 0) parts.push(`${slow.inFlightOver10s} request${slow.inFlightOver10s === 1 ? '' : 's'} in flight for more than ${secs} s`);
  return parts.length ? `Okta answers slowly: ${parts.join(', ')}` : undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Every problem with the options at once, p-queue style. */
export function validateLimiterOptions(opts: SharedLimiterOptions): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, path: string, what: string, got: unknown): void => {
    if (!ok) problems.push(`limiter ${path}: expected ${what}, got \`${describe(got)}\``);
  };
  if (opts.connection !== undefined) {
    expect(typeof opts.connection === 'function', 'connection', 'a function returning an ioredis connection', opts.connection);
  } else {
    expect(typeof opts.redisUrl === 'string' && opts.redisUrl.length > 0, 'redisUrl', 'a redis:// URL (or a connection factory)', opts.redisUrl);
  }
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
  const between = (v: number | undefined, path: string, min: number, max: number): void => {
    if (v !== undefined) expect(typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max, path, `a finite number from ${min} to ${max}`, v);
  };
  between(opts.leaseMs, 'leaseMs', 100, MAX_LEASE_MS);
  between(opts.capStepMs, 'capStepMs', 1, MAX_LEASE_MS);
  between(opts.batchWindowMs, 'batchWindowMs', 0, 60_000);
  if (opts.maxBatch !== undefined) expect(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1, 'maxBatch', 'an integer >= 1', opts.maxBatch);
  return problems;
}

/** One request this process holds or waits for: for stats().slow. */
interface Tracked {
  since: number;
  startedAt: number | undefined;
}

/** The permit a request runs under, for observe() inside it. */
interface RequestContext extends Permit {
  bucket: Bucket;
}

class RedisSharedLimiter implements SharedLimiter {
  private readonly gates = new Map<Bucket, BucketGate>();
  /** bucket → lane → local scheduler */
  private readonly local = new Map<Bucket, Map<Lane, Bottleneck>>();
  private readonly budgets: Record<Bucket, BucketBudget>;
  private readonly laneGates = new Map<Lane, RequestGate>();
  private readonly tracked = new Map<Bucket, Set<Tracked>>();
  private readonly context = new AsyncLocalStorage<RequestContext>();
  private closed = false;
  readonly processId: string;

  constructor(
    private readonly redis: LimiterConnection & LimiterRedis,
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
        run: (bucket, fn, runOpts) => this.runIn(lane, bucket, fn, runOpts?.signal),
        observe: (bucket, info, status, errorCode) => this.observe(bucket, info, status, errorCode),
      });
    }
  }

  run<T>(bucket: Bucket, fn: () => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T> {
    return this.runIn('other', bucket, fn, opts?.signal);
  }

  lane(name: Lane): RequestGate {
    const gate = this.laneGates.get(name);
    if (!gate) throw new TypeError(`Expected a lane of ${LANES.join(', ')}, got \`${describe(name)}\``);
    return gate;
  }

  observe(bucket: Bucket, info: RateLimitInfo | undefined, status: number, errorCode?: string): void {
    if (this.closed) return;
    const gate = this.gate(bucket);
    const ctx = this.context.getStore();
    const permit = ctx && ctx.bucket === bucket ? ctx : undefined;
    gate.observe(info, status, permit);
    const warnPause = (err: unknown): void => {
      this.opts.logger?.warn('rate limiter: could not share a bucket pause through Redis', {
        bucket,
        error: err instanceof Error ? err.message : String(err),
      });
    };
    if (status === 503 && errorCode === READ_ONLY_ERROR_CODE) {
      // Okta's read-only mode: every worker waits, 30 s, doubling, at most 5 minutes.
      gate.readOnly(permit).catch(warnPause);
      return;
    }
    if (status !== 429) return;
    const kind = classifyRateLimit(info);
    gate.count429(kind);
    if (kind === 'bucket') {
      // Every worker stops until the reset (clamped); resumes are jittered per process and paced.
      const ms = gate.rateLimitPauseMs(info);
      if (ms > 0) gate.pause(Date.now() + ms).catch(warnPause);
    }
    // concurrency: the cap goes down cluster-wide (count429 signals it); resource: the job waits, not the bucket.
  }

  async pauseUntil(bucket: Bucket, epochMs: number): Promise<void> {
    if (!Number.isFinite(epochMs)) throw new TypeError(`Expected pauseUntil's epochMs to be a finite number, got \`${describe(epochMs)}\``);
    await this.gate(bucket).pause(Math.min(epochMs, Date.now() + MAX_PAUSE_MS));
  }

  pausedUntil(bucket: Bucket): number | null {
    return this.gates.get(bucket)?.snapshot().pausedUntil ?? null;
  }

  pauseReason(bucket: Bucket): PauseReason | null {
    return this.gates.get(bucket)?.snapshot().pauseReason ?? null;
  }

  stats(): LimiterStats {
    const out: LimiterStats = {
      granted: 0,
      roundTrips: 0,
      waitedMs: 0,
      rateLimited: { bucket: 0, concurrency: 0, resource: 0 },
      readOnly: 0,
      slow: { waitingOver10s: 0, inFlightOver10s: 0 },
      buckets: {},
    };
    const now = Date.now();
    for (const [bucket, gate] of this.gates) {
      const s = gate.snapshot();
      const slow = { waitingOver10s: 0, inFlightOver10s: 0 };
      for (const t of this.tracked.get(bucket) ?? []) {
        if (t.startedAt === undefined) {
          if (now - t.since > SLOW_MS) slow.waitingOver10s++;
        } else if (now - t.startedAt > SLOW_MS) slow.inFlightOver10s++;
      }
      out.buckets[bucket] = { ...s, slow };
      out.granted += s.granted;
      out.roundTrips += s.roundTrips;
      out.waitedMs += s.waitedMs;
      out.rateLimited.bucket += s.rateLimited.bucket;
      out.rateLimited.concurrency += s.rateLimited.concurrency;
      out.rateLimited.resource += s.rateLimited.resource;
      out.readOnly += s.readOnly;
      out.slow.waitingOver10s += slow.waitingOver10s;
      out.slow.inFlightOver10s += slow.inFlightOver10s;
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
    this.tracked.clear();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ---- internals ----

  private runIn<T>(lane: Lane, bucket: Bucket, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`The shared rate limiter is closed: no more requests to the ${bucket} bucket`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const gate = this.gate(bucket);
    const laneIndex: LaneIndex = lane === 'poll' ? POLL : MAIN;
    const tracked: Tracked = { since: Date.now(), startedAt: undefined };
    let set = this.tracked.get(bucket);
    if (!set) this.tracked.set(bucket, (set = new Set()));
    set.add(tracked);
    const untrack = (): void => void this.tracked.get(bucket)?.delete(tracked);
    const permitted = async (): Promise<T> => {
      // Dropped while queued in the local scheduler: leave without taking a permit.
      if (signal?.aborted) throw signal.reason;
      const permit = await gate.acquire(laneIndex, signal);
      tracked.startedAt = Date.now();
      try {
        return await this.context.run({ ...permit, bucket }, fn);
      } finally {
        gate.release();
      }
    };
    let result: Promise<T>;
    if (this.budgets[bucket].ratePerMinute > BOTTLENECK_MAX_PER_MINUTE) result = permitted();
    else {
      const scheduled = this.scheduler(bucket, lane).schedule(permitted);
      result = signal ? dropOnAbort(scheduled, signal, () => tracked.startedAt !== undefined) : scheduled;
    }
    return result.finally(untrack);
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
        readOnlyFirstPauseMs: this.opts.readOnlyFirstPauseMs ?? READ_ONLY_FIRST_PAUSE_MS,
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

/**
 * The request's promise, except that an abort before the request started rejects at once
 * with the signal's reason (the queued job then leaves without a permit when its turn comes).
 */
function dropOnAbort<T>(p: Promise<T>, signal: AbortSignal, started: () => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done || started()) return;
      done = true;
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (!done) resolve(v);
        done = true;
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!done) reject(err);
        done = true;
      },
    );
  });
}

/**
 * Opens the limiter's Redis connection (redisUrl, or the connection factory) and checks it
 * answers; throws ConfigError for bad options.
 */
export async function createSharedLimiter(opts: SharedLimiterOptions): Promise<SharedLimiter> {
  const problems = validateLimiterOptions(opts);
  if (problems.length) throw new ConfigError(problems);
  const options: RedisOptions = {
    // RESP2: the scripts' array replies arrive as plain arrays whatever the server default.
    protocol: 2,
    connectionName: `${opts.prefix}:limiter`,
    enableAutoPipelining: true,
  };
  const redis = (opts.connection ? opts.connection() : opts.connect ? opts.connect(options) : new Redis(opts.redisUrl as string, options)) as LimiterConnection & LimiterRedis;
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
