/**
 * One process's side of one Okta bucket: callers wait here for a permit (a token of the
 * cluster-wide rate budget + a cluster-wide concurrency slot), and one Redis round trip
 * at a time serves all of them at once.
 *
 * Hot path: requests that arrive while a round trip is in flight are served together
 * by the next one (batch acquisition), observations of Okta's headers and released
 * slots ride along with it, and nothing is fetched beyond what callers are waiting for,
 * so no allowance is ever left lying around in a process: a permit is handed to a
 * waiting caller the moment Redis grants it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Bucket, RateLimitInfo } from '../okta/types.js';
import { resumeJitterMs } from './pacing.js';

/** Lanes as the Redis script sees them: main (enroll + other) and poll. */
export const MAIN = 0;
export const POLL = 1;
export type LaneIndex = typeof MAIN | typeof POLL;

export interface BucketGateConfig {
  bucket: Bucket;
  keys: { state: string; held: string; alive: string };
  processId: string;
  ratePerMinute: number;
  maxConcurrent: number;
  pollShare: number;
  leaseMs: number;
  keyTtlMs: number;
  batchWindowMs: number;
  maxBatch: number;
  capStepMs: number;
  capCooldownMs: number;
  /** Called when the cluster-wide concurrency cap this process last saw changes. */
  onCap?: (cap: number) => void;
  logger?: Logger;
}

/** The ioredis commands defined in index.ts from scripts.ts. */
export interface LimiterRedis extends Redis {
  limiterAcquire(
    state: string,
    held: string,
    alive: string,
    ...args: Array<string | number>
  ): Promise<[number, number, number, number, number, number, number, number]>;
  limiterPause(state: string, relMs: number, ttlMs: number): Promise<number>;
}

export interface BucketStats {
  granted: number;
  /** Redis round trips this process made for the bucket (one serves many requests). */
  roundTrips: number;
  /** Sum over granted calls of the time each waited for its permit. */
  waitedMs: number;
  rateLimited: { bucket: number; concurrency: number; resource: number };
  /** Cluster-wide cap on requests in flight, as last seen (AIMD after concurrency 429s). */
  concurrencyCap: number;
  /** Epoch ms (local clock) until which the bucket is paused cluster-wide, if it is. */
  pausedUntil: number | null;
  /** Current pace, ms between grants cluster-wide (configured rate or slower, from headers). */
  intervalMs: number;
  /** Okta's limit for the current window, when headers told us. */
  windowLimit: number | null;
  inFlight: number;
  waiting: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  since: number;
}

/** FIFO with O(1) shift. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

interface PendingObservation {
  resetInMs: number;
  limit: number;
  remaining: number;
  atMs: number;
}

/** Rough window-end comparison on the local clock (Reset has whole-second precision). */
function endOf(o: PendingObservation): number {
  return o.atMs + o.resetInMs;
}

export class LimiterClosedError extends Error {
  override readonly name = 'LimiterClosedError';
  constructor(bucket: Bucket) {
    super(`The shared rate limiter was closed while a request to the ${bucket} bucket waited for its turn`);
  }
}

export class BucketGate {
  private readonly waiting: [Fifo<Waiter>, Fifo<Waiter>] = [new Fifo(), new Fifo()];
  private inUse = 0;
  private obs: PendingObservation | undefined;
  private capDown = false;
  private syncing = false;
  private current: Promise<void> | undefined;
  private again = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  private failures = 0;
  private lastWarnAt = 0;
  private readonly stats: BucketStats;

  constructor(
    private readonly redis: LimiterRedis,
    private readonly cfg: BucketGateConfig,
  ) {
    this.stats = {
      granted: 0,
      roundTrips: 0,
      waitedMs: 0,
      rateLimited: { bucket: 0, concurrency: 0, resource: 0 },
      concurrencyCap: cfg.maxConcurrent,
      pausedUntil: null,
      intervalMs: 60_000 / cfg.ratePerMinute,
      windowLimit: null,
      inFlight: 0,
      waiting: 0,
    };
    // Renew this process's lease on its slots while requests are in flight (a request
    // can outlast a lease); a crashed process stops renewing and its slots come back.
    this.heartbeat = setInterval(() => {
      if (this.inUse > 0) this.kick(true);
    }, Math.max(50, Math.floor(cfg.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Waits for a permit; call release() exactly once after the request ends. */
  acquire(lane: LaneIndex): Promise<void> {
    if (this.closed) return Promise.reject(new LimiterClosedError(this.cfg.bucket));
    return new Promise<void>((resolve, reject) => {
      this.waiting[lane].push({ resolve, reject, since: Date.now() });
      this.kick(false);
    });
  }

  release(): void {
    this.inUse--;
    this.kick(true);
  }

  /** Okta's headers of one answer (any status). 429 handling is done by the caller. */
  observe(info: RateLimitInfo): void {
    if (info.limit <= 0) return;
    const next: PendingObservation = {
      resetInMs: info.resetInMs,
      limit: info.limit,
      remaining: info.remaining,
      atMs: Date.now(),
    };
    const prev = this.obs;
    if (!prev || endOf(next) > endOf(prev) + 1000) this.obs = next;
    else if (Math.abs(endOf(next) - endOf(prev)) <= 1000 && next.remaining < prev.remaining) this.obs = next;
    // Observations ride along with the next round trip (there is one after every request).
  }

  count429(kind: 'bucket' | 'concurrency' | 'resource'): void {
    this.stats.rateLimited[kind]++;
    if (kind === 'concurrency') {
      this.capDown = true;
      this.kick(true);
    }
  }

  async pause(untilEpochMs: number): Promise<void> {
    const rel = Math.max(0, Math.ceil(untilEpochMs - Date.now()));
    const left = await this.redis.limiterPause(this.cfg.keys.state, rel, this.cfg.keyTtlMs);
    this.notePause(left);
  }

  snapshot(): BucketStats {
    return {
      ...this.stats,
      rateLimited: { ...this.stats.rateLimited },
      inFlight: this.inUse,
      waiting: this.waiting[MAIN].length + this.waiting[POLL].length,
      pausedUntil: this.stats.pausedUntil !== null && this.stats.pausedUntil > Date.now() ? this.stats.pausedUntil : null,
    };
  }

  /** Rejects waiters, stops timers and hands this process's slots back. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const err = new LimiterClosedError(this.cfg.bucket);
    for (const q of this.waiting) for (const w of q.drain()) w.reject(err);
    await this.current;
    // Give the slots back now rather than when the lease runs out.
    try {
      await this.redis.limiterAcquire(this.cfg.keys.state, this.cfg.keys.held, this.cfg.keys.alive, ...this.args(0, 0, 0));
    } catch {
      // Redis gone: the lease runs out by itself.
    }
  }

  // ---- the round trip ----

  /** Schedule a round trip. Urgent: something must reach Redis (released slots, a 429). */
  private kick(urgent: boolean): void {
    if (this.closed) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    if (this.timer) {
      if (!urgent) return;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.sync();
    });
  }

  private args(wantMain: number, wantPoll: number, keep: number, obs?: PendingObservation, capDown = false): Array<string | number> {
    const c = this.cfg;
    const resetIn = obs ? Math.max(0, obs.resetInMs - (Date.now() - obs.atMs)) : -1;
    return [
      c.processId,
      wantMain,
      wantPoll,
      keep,
      c.ratePerMinute,
      c.maxConcurrent,
      c.pollShare,
      resetIn,
      obs ? obs.limit : 0,
      obs ? obs.remaining : 0,
      capDown ? 1 : 0,
      c.leaseMs,
      c.keyTtlMs,
      c.batchWindowMs,
      c.maxBatch,
      c.capStepMs,
      c.capCooldownMs,
    ];
  }

  private sync(): Promise<void> {
    if (this.closed || this.syncing) return Promise.resolve();
    this.current = this.roundTrip();
    return this.current;
  }

  private async roundTrip(): Promise<void> {
    this.syncing = true;
    this.again = false;
    const wantMain = Math.min(this.waiting[MAIN].length, 10_000);
    const wantPoll = Math.min(this.waiting[POLL].length, 10_000);
    const obs = this.obs;
    const capDown = this.capDown;
    this.obs = undefined;
    this.capDown = false;
    let retryInMs: number | undefined;
    try {
      const keys = this.cfg.keys;
      const r = await this.redis.limiterAcquire(keys.state, keys.held, keys.alive, ...this.args(wantMain, wantPoll, this.inUse, obs, capDown));
      this.failures = 0;
      this.stats.roundTrips++;
      const [gMain, gPoll, wait, cap, pauseLeft, intervalUs, windowLimit] = r;
      // Closed meanwhile: nothing waits any more; close() hands the slots back after this.
      if (this.closed) return;
      const now = Date.now();
      this.grant(MAIN, gMain, now);
      this.grant(POLL, gPoll, now);
      if (cap !== this.stats.concurrencyCap) {
        this.stats.concurrencyCap = cap;
        this.cfg.onCap?.(cap);
      }
      this.stats.intervalMs = intervalUs / 1000;
      this.stats.windowLimit = windowLimit >= 0 ? windowLimit : null;
      this.notePause(pauseLeft);
      const stillWaiting = this.waiting[MAIN].length + this.waiting[POLL].length;
      if (stillWaiting > 0 && gMain + gPoll < wantMain + wantPoll) {
        if (wait === -1) {
          // Bound by concurrency: our own releases kick a round trip; others' are polled for.
          retryInMs = 5 + Math.random() * 15;
        } else {
          retryInMs = wait + (pauseLeft > 0 ? resumeJitterMs(wait) : 0);
        }
      }
    } catch (err) {
      // Keep what did not reach Redis for the next try.
      if (obs && !this.obs) this.obs = obs;
      if (capDown) this.capDown = true;
      this.failures++;
      retryInMs = Math.min(2000, 50 * 2 ** Math.min(this.failures, 6));
      const now = Date.now();
      if (now - this.lastWarnAt > 10_000) {
        this.lastWarnAt = now;
        this.cfg.logger?.warn('rate limiter: Redis round trip failed; requests wait and it is retried', {
          bucket: this.cfg.bucket,
          error: err instanceof Error ? err.message : String(err),
          retryInMs,
        });
      }
    } finally {
      this.syncing = false;
    }
    if (this.closed) return;
    if (this.again) this.kick(true);
    else if (retryInMs !== undefined) this.arm(retryInMs);
    else if (this.waiting[MAIN].length + this.waiting[POLL].length > 0) this.kick(true);
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, Math.max(1, Math.ceil(ms)));
  }

  private grant(lane: LaneIndex, n: number, now: number): void {
    const q = this.waiting[lane];
    for (let i = 0; i < n; i++) {
      const w = q.shift();
      if (!w) {
        // A waiter vanished (cannot happen without close): the slot goes back next round trip.
        continue;
      }
      this.inUse++;
      this.stats.granted++;
      this.stats.waitedMs += now - w.since;
      w.resolve();
    }
  }

  private notePause(leftMs: number): void {
    this.stats.pausedUntil = leftMs > 0 ? Date.now() + leftMs : null;
  }
}
