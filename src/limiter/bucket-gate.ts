/**
 * One process's side of one Okta bucket: callers wait here for a permit (a token of the
 * cluster-wide rate budget + a cluster-wide concurrency slot), and one Redis round trip
 * at a time serves all of them at once.
 *
 * Hot path: requests that arrive while a round trip is in flight are served together
 * by the next one (batch acquisition), observations of Okta's headers and released
 * slots ride along with it, and nothing is fetched beyond what callers are waiting for,
 * so no allowance is ever left lying around in a process: a permit is handed to a
 * waiting caller the moment Redis grants it. A caller that gives up (its signal aborts)
 * leaves the queue at once; a permit Redis granted it meanwhile goes to the next caller,
 * or back to the budget.
 *
 * Every permit carries a ticket (its place in the cluster-wide grant order) and its grant
 * time, and every answer observed inside the request is tied to them: that is how the
 * cluster learns when each Okta window opened and how long windows last (scripts.ts).
 */
import type { Logger } from '../logger.js';
import type { Bucket, RateLimitInfo } from '../okta/types.js';
import { pauseClampMs, resumeJitterMs, timerDelayMs, MAX_PAUSE_MS } from './pacing.js';
import { OBS_ARITY, PAUSE_RATE_LIMIT, PAUSE_READ_ONLY } from './scripts.js';

/** Lanes as the Redis script sees them: main (enroll + other) and poll. */
export const MAIN = 0;
export const POLL = 1;
export type LaneIndex = typeof MAIN | typeof POLL;

export type PauseReason = 'rate-limit' | 'read-only';

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
  /** The first pause of Okta's read-only mode (it doubles with each further answer). */
  readOnlyFirstPauseMs: number;
  /** Called when the cluster-wide concurrency cap this process last saw changes. */
  onCap?: (cap: number) => void;
  logger?: Logger;
}

/** The commands defined in index.ts from scripts.ts (on a Redis or a Cluster connection). */
export interface LimiterRedis {
  limiterAcquire(state: string, held: string, alive: string, ...args: Array<string | number>): Promise<number[]>;
  limiterPause(state: string, ...args: Array<string | number>): Promise<number[]>;
}

/** What the request running under a permit is: its place in the grant order and when it was granted. */
export interface Permit {
  ticket: number;
  /** Local clock, epoch ms. */
  grantedAt: number;
}

export interface BucketStats {
  granted: number;
  /** Redis round trips this process made for the bucket (one serves many requests). */
  roundTrips: number;
  /** Sum over granted calls of the time each waited for its permit. */
  waitedMs: number;
  rateLimited: { bucket: number; concurrency: number; resource: number };
  /** Read-only answers (503 E0000010) seen by this process. */
  readOnly: number;
  /** Cluster-wide cap on requests in flight, as last seen (AIMD after concurrency 429s). */
  concurrencyCap: number;
  /** Epoch ms (local clock) until which the bucket is paused cluster-wide, if it is. */
  pausedUntil: number | null;
  /** Why it is paused: a bucket 429 (or pauseUntil), or Okta's read-only mode. */
  pauseReason: PauseReason | null;
  /** Current pace, ms between grants cluster-wide (configured rate or slower, from headers). */
  intervalMs: number;
  /** Okta's limit for the current window, when headers told us. */
  windowLimit: number | null;
  /** The window length the cluster paces to (learned from the answers), ms. */
  windowLengthMs: number | null;
  /**
   * Windows were seen to end before their Reset (they open with their first request): the
   * cluster paces to each window's learned phase, and a bucket 429 blocks only until the
   * window's learned end instead of pausing until Okta's Reset.
   */
  phaseRules: boolean;
  inFlight: number;
  waiting: number;
}

interface Waiter {
  resolve: (permit: Permit) => void;
  reject: (err: unknown) => void;
  since: number;
  dead: boolean;
  cleanup?: () => void;
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
  /** Keeps only the items that pass (order kept). */
  filter(keep: (item: T) => boolean): void {
    this.items = this.items.slice(this.head).filter(keep);
    this.head = 0;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/** What this process saw of one Okta window since the last round trip. */
interface WindowObservation {
  /** X-Rate-Limit-Reset, epoch seconds: the same on every answer of one window. */
  reset: number;
  limit: number;
  /** Local epoch ms of the reset, smallest estimate (Reset − Date errs long by up to 1 s). */
  endAt: number;
  seenMax: number;
  /** max(seen − ticket) over answers from requests with a ticket. */
  seenMinusTicket?: number;
  /** The answer with the lowest seen (the earliest arrival) among those with a grant time. */
  firstSeen?: number;
  firstAt?: number;
  /** Latest grant time among answers counted in this window. */
  lastAt?: number;
}

export class LimiterClosedError extends Error {
  override readonly name = 'LimiterClosedError';
  constructor(bucket: Bucket) {
    super(`The shared rate limiter was closed while a request to the ${bucket} bucket waited for its turn`);
  }
}

/** Answers whose reset is further than this are not taken as a window (no Okta window is that long). */
const MAX_WINDOW_MS = MAX_PAUSE_MS;

export class BucketGate {
  private readonly waiting: [Fifo<Waiter>, Fifo<Waiter>] = [new Fifo(), new Fifo()];
  private readonly live: [number, number] = [0, 0];
  private dead = 0;
  private inUse = 0;
  private refund = 0;
  private readonly obs = new Map<number, WindowObservation>();
  private okAt = -Infinity;
  private evidence = false;
  /** Highest X-Rate-Limit-Reset seen (epoch s) and a lower bound on Okta's clock minus ours (ms). */
  private maxReset = 0;
  private offsetLo = -Infinity;
  private offsetAt = 0;
  private longestReset: number | undefined;
  private absurdWarned = false;
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
      readOnly: 0,
      concurrencyCap: cfg.maxConcurrent,
      pausedUntil: null,
      pauseReason: null,
      intervalMs: 60_000 / cfg.ratePerMinute,
      windowLimit: null,
      windowLengthMs: null,
      phaseRules: false,
      inFlight: 0,
      waiting: 0,
    };
    // Renew this process's lease on its slots while requests are in flight (a request
    // can outlast a lease); a crashed process stops renewing and its slots come back.
    this.heartbeat = setInterval(
      () => {
        if (this.inUse > 0) this.kick(true);
      },
      timerDelayMs(Math.max(50, Math.floor(cfg.leaseMs / 3))),
    );
    this.heartbeat.unref();
  }

  /**
   * Waits for a permit; call release() exactly once after the request ends. With a
   * signal, an abort while waiting rejects with the signal's reason and takes nothing.
   */
  acquire(lane: LaneIndex, signal?: AbortSignal): Promise<Permit> {
    if (this.closed) return Promise.reject(new LimiterClosedError(this.cfg.bucket));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { resolve, reject, since: Date.now(), dead: false };
      if (signal) {
        const onAbort = (): void => {
          if (w.dead) return;
          w.dead = true;
          this.live[lane]--;
          this.dead++;
          if (this.dead > 1024 && this.dead > this.live[MAIN] + this.live[POLL]) this.compact();
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiting[lane].push(w);
      this.live[lane]++;
      this.kick(false);
    });
  }

  release(): void {
    this.inUse--;
    this.kick(true);
  }

  /**
   * One answer (any status). `permit`: the request it answers, when known. 429 and
   * read-only handling are done by the caller.
   */
  observe(info: RateLimitInfo | undefined, status: number, permit?: Permit): void {
    if (permit && status >= 200 && status < 300 && permit.grantedAt > this.okAt) this.okAt = permit.grantedAt;
    if (!info || !(info.limit > 0)) return;
    if (!(info.resetInMs <= MAX_WINDOW_MS)) {
      this.warnAbsurd(info.resetInMs, undefined);
      return;
    }
    const now = Date.now();
    if (status !== 429 && (this.longestReset === undefined || info.resetInMs > this.longestReset)) this.longestReset = info.resetInMs;
    const reset = Math.round(info.resetAtMs / 1000);
    const seen = Math.max(0, info.limit - info.remaining);
    const endAt = Math.min(now + info.resetInMs, this.learnClock(info, reset, now));
    let o = this.obs.get(reset);
    if (!o) {
      o = { reset, limit: info.limit, endAt, seenMax: seen };
      this.obs.set(reset, o);
      if (this.obs.size > 2) this.obs.delete(Math.min(...this.obs.keys()));
    }
    o.limit = info.limit;
    o.endAt = Math.min(o.endAt, endAt);
    o.seenMax = Math.max(o.seenMax, seen);
    if (permit) {
      const smt = seen - permit.ticket;
      if (o.seenMinusTicket === undefined || smt > o.seenMinusTicket) o.seenMinusTicket = smt;
      if (o.firstSeen === undefined || seen < o.firstSeen || (seen === o.firstSeen && permit.grantedAt < (o.firstAt ?? Infinity))) {
        o.firstSeen = seen;
        o.firstAt = permit.grantedAt;
      }
      if (o.lastAt === undefined || permit.grantedAt > o.lastAt) o.lastAt = permit.grantedAt;
    }
    // Observations ride along with the next round trip (there is one after every request).
  }

  count429(kind: 'bucket' | 'concurrency' | 'resource'): void {
    this.stats.rateLimited[kind]++;
    if (kind === 'concurrency') {
      this.capDown = true;
      this.kick(true);
    }
  }

  /**
   * How long a bucket 429 pauses the bucket: Okta's reset, clamped to the longest reset
   * this bucket has shown (pacing.ts pauseClampMs); logs once when a header was absurd.
   * 0 under the phase rules: the 429 (Remaining 0) reaches Redis as an observation and
   * blocks the spent window until its learned end, which is sooner and no less safe.
   */
  rateLimitPauseMs(info: RateLimitInfo | undefined): number {
    const clamp = pauseClampMs(this.longestReset);
    if (info && this.stats.phaseRules && info.resetInMs <= clamp) {
      this.kick(true);
      return 0;
    }
    if (!info) return clamp;
    if (info.resetInMs > clamp) {
      this.warnAbsurd(info.resetInMs, clamp);
      return clamp;
    }
    return info.resetInMs;
  }

  async pause(untilEpochMs: number, reason: PauseReason = 'rate-limit'): Promise<void> {
    const rel = Math.max(0, Math.ceil(untilEpochMs - Date.now()));
    const r = await this.redis.limiterPause(this.cfg.keys.state, rel, this.cfg.keyTtlMs, reason === 'read-only' ? PAUSE_READ_ONLY : PAUSE_RATE_LIMIT, -1, this.cfg.readOnlyFirstPauseMs, MAX_PAUSE_MS);
    this.notePause(Number(r[0]), Number(r[1]));
  }

  /** Okta answered in read-only mode: pause the bucket cluster-wide (30 s, doubling, at most 5 min). */
  async readOnly(permit?: Permit): Promise<void> {
    this.stats.readOnly++;
    const ago = permit ? Math.max(0, Date.now() - permit.grantedAt) : -1;
    const r = await this.redis.limiterPause(this.cfg.keys.state, 0, this.cfg.keyTtlMs, PAUSE_READ_ONLY, ago, this.cfg.readOnlyFirstPauseMs, MAX_PAUSE_MS);
    this.notePause(Number(r[0]), Number(r[1]));
    this.kick(true);
  }

  snapshot(): BucketStats {
    const paused = this.stats.pausedUntil !== null && this.stats.pausedUntil > Date.now();
    return {
      ...this.stats,
      rateLimited: { ...this.stats.rateLimited },
      inFlight: this.inUse,
      waiting: this.live[MAIN] + this.live[POLL],
      pausedUntil: paused ? this.stats.pausedUntil : null,
      pauseReason: paused ? this.stats.pauseReason : null,
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
    for (const q of this.waiting) {
      for (const w of q.drain()) {
        if (w.dead) continue;
        w.dead = true;
        w.cleanup?.();
        w.reject(err);
      }
    }
    this.live[MAIN] = this.live[POLL] = 0;
    await this.current;
    // Give the slots back now rather than when the lease runs out.
    try {
      await this.redis.limiterAcquire(this.cfg.keys.state, this.cfg.keys.held, this.cfg.keys.alive, ...this.args(0, 0, 0, [], false, this.refund));
    } catch {
      // Redis gone: the lease runs out by itself.
    }
  }

  // ---- learning from the answers ----

  /**
   * Okta's clock, from Date (whole seconds, floored; Okta wrote it before we received the
   * answer): Okta's clock minus ours is at least Date − now, so the highest such value over
   * many answers is a lower bound a few ms under the truth, and Reset − that bound is the
   * reset on our clock, never too early (returned). An answer counted in a newer window
   * although Okta wrote it before an older window's Reset proves that windows end before
   * their Reset (they open with their first request): evidence for the phase rules
   * (scripts.ts). Where windows end on their Reset this can never happen.
   */
  private learnClock(info: RateLimitInfo, reset: number, now: number): number {
    const dateMs = info.resetAtMs - info.resetInMs;
    // Without a Date header the reset was measured against our own clock: nothing to learn.
    if (!(info.resetInMs > 0) || dateMs % 1000 !== 0) return Infinity;
    // The bound loosens slowly (clock drift), so one sample does not hold forever.
    if (Number.isFinite(this.offsetLo)) this.offsetLo -= (now - this.offsetAt) * 1e-4;
    this.offsetAt = now;
    this.offsetLo = Math.max(this.offsetLo, dateMs - now);
    if (reset > this.maxReset) {
      if (this.maxReset > 0 && dateMs + 1000 <= this.maxReset * 1000) this.evidence = true;
      this.maxReset = reset;
    }
    return info.resetAtMs - this.offsetLo;
  }

  private warnAbsurd(resetInMs: number, clampMs: number | undefined): void {
    if (this.absurdWarned) return;
    this.absurdWarned = true;
    const secs = (ms: number): string => (ms >= 86_400_000 ? `${Math.round(ms / 86_400_000)} days` : `${Math.round(ms / 1000)} s`);
    this.cfg.logger?.warn(
      clampMs === undefined
        ? `rate limiter: Okta's X-Rate-Limit-Reset on the ${this.cfg.bucket} bucket is ${secs(resetInMs)} away, longer than any rate-limit window; that answer's rate-limit headers are ignored (said once)`
        : `rate limiter: Okta's X-Rate-Limit-Reset on the ${this.cfg.bucket} bucket is ${secs(resetInMs)} away, longer than the windows this bucket has shown; pausing ${secs(clampMs)} instead (said once)`,
      { bucket: this.cfg.bucket, resetInMs, pauseMs: clampMs },
    );
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

  private args(wantMain: number, wantPoll: number, keep: number, obs: WindowObservation[], capDown: boolean, refund: number, okAt = -Infinity, evidence = false): Array<string | number> {
    const c = this.cfg;
    const now = Date.now();
    const ago = (at: number | undefined): number => (at === undefined ? -1 : Math.max(0, Math.round(now - at)));
    const out: Array<string | number> = [
      c.processId,
      wantMain,
      wantPoll,
      keep,
      c.ratePerMinute,
      c.maxConcurrent,
      c.pollShare,
      capDown ? 1 : 0,
      c.leaseMs,
      c.keyTtlMs,
      c.batchWindowMs,
      c.maxBatch,
      c.capStepMs,
      c.capCooldownMs,
      refund,
      Number.isFinite(okAt) ? ago(okAt) : -1,
      evidence ? 1 : 0,
      obs.length,
    ];
    for (const o of obs) {
      out.push(
        o.reset,
        o.limit,
        Math.max(0, Math.round(o.endAt - now)),
        o.seenMax,
        o.seenMinusTicket ?? 'x',
        o.firstSeen ?? 0,
        o.firstSeen === undefined ? -1 : ago(o.firstAt),
        ago(o.lastAt),
      );
    }
    if (out.length !== 18 + obs.length * OBS_ARITY) throw new Error('limiter: acquire arguments out of shape');
    return out;
  }

  private sync(): Promise<void> {
    if (this.closed || this.syncing) return Promise.resolve();
    this.current = this.roundTrip();
    return this.current;
  }

  private async roundTrip(): Promise<void> {
    this.syncing = true;
    this.again = false;
    const wantMain = Math.min(this.live[MAIN], 10_000);
    const wantPoll = Math.min(this.live[POLL], 10_000);
    const obs = [...this.obs.values()].sort((a, b) => a.reset - b.reset);
    this.obs.clear();
    const capDown = this.capDown;
    const refund = this.refund;
    const okAt = this.okAt;
    const evidence = this.evidence;
    this.capDown = false;
    this.refund = 0;
    this.okAt = -Infinity;
    this.evidence = false;
    let retryInMs: number | undefined;
    try {
      const keys = this.cfg.keys;
      const r = await this.redis.limiterAcquire(keys.state, keys.held, keys.alive, ...this.args(wantMain, wantPoll, this.inUse, obs, capDown, refund, okAt, evidence));
      this.failures = 0;
      this.stats.roundTrips++;
      const [gMain = 0, gPoll = 0, wait = 0, cap = this.stats.concurrencyCap, pauseLeft = 0, intervalUs = 0, windowLimit = -1, , gcAfter = 0, why = 0, lenMs = -1, , phase = 0] = r.map(Number);
      const now = Date.now();
      // Tickets in grant order: this call's grants are the last gMain + gPoll of the counter.
      let ticket = gcAfter - gMain - gPoll + 1;
      ticket = this.grant(MAIN, gMain, now, ticket);
      this.grant(POLL, gPoll, now, ticket);
      if (cap !== this.stats.concurrencyCap) {
        this.stats.concurrencyCap = cap;
        this.cfg.onCap?.(cap);
      }
      this.stats.intervalMs = intervalUs / 1000;
      this.stats.windowLimit = windowLimit >= 0 ? windowLimit : null;
      this.stats.windowLengthMs = lenMs > 0 ? lenMs : null;
      this.stats.phaseRules = phase === 1;
      this.notePause(pauseLeft, why);
      // Closed meanwhile: nothing waits any more; close() hands the slots back after this.
      if (this.closed) return;
      const stillWaiting = this.live[MAIN] + this.live[POLL];
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
      for (const o of obs) if (!this.obs.has(o.reset)) this.obs.set(o.reset, o);
      if (capDown) this.capDown = true;
      this.refund += refund;
      if (okAt > this.okAt) this.okAt = okAt;
      if (evidence) this.evidence = true;
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
    else if (this.live[MAIN] + this.live[POLL] > 0) this.kick(true);
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    // Capped: a long wait is re-checked with Redis rather than trusted to one timer.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, timerDelayMs(ms));
  }

  /** Hands n permits to the lane's first live waiters; returns the next ticket. */
  private grant(lane: LaneIndex, n: number, now: number, ticket: number): number {
    const q = this.waiting[lane];
    for (let i = 0; i < n; i++, ticket++) {
      let w = q.shift();
      while (w && w.dead) {
        this.dead--;
        w = q.shift();
      }
      if (!w || this.closed) {
        // Its caller gave up meanwhile: the token goes back with the next round trip
        // (the slot was never taken: `keep` does not count it).
        this.refund++;
        continue;
      }
      w.dead = true;
      w.cleanup?.();
      this.live[lane]--;
      this.inUse++;
      this.stats.granted++;
      this.stats.waitedMs += now - w.since;
      w.resolve({ ticket, grantedAt: now });
    }
    if (this.refund > 0) this.kick(true);
    return ticket;
  }

  private compact(): void {
    for (const q of this.waiting) q.filter((w) => !w.dead);
    this.dead = 0;
  }

  private notePause(leftMs: number, why: number): void {
    this.stats.pausedUntil = leftMs > 0 ? Date.now() + leftMs : null;
    this.stats.pauseReason = leftMs > 0 ? (why === PAUSE_READ_ONLY ? 'read-only' : 'rate-limit') : null;
  }
}
