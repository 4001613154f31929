/**
 * RedisGuard: watches a live Redis for the two conditions no retry can get past,
 * and turns each into one fatal error for the process that runs workers:
 *  - a full Redis: OOM answers (and transactions discarded because of them) that go
 *    on for longer than a short grace, instead of a hot loop of refused commands;
 *  - records that vanished: the meta record of a run this process works on is gone
 *    (Redis restarted without persistence — its run_id changes —, was flushed, or
 *    evicted keys), instead of waiting forever and reporting an empty run.
 * The runtime owns it: start() after connecting, noteError() with the errors its
 * workers, queues and feeder meet, stop() on close; it says which runs must exist
 * through `runsInUse`. (It hears of errors from where they surface rather than by
 * wrapping every command: that would tax every command of a run.)
 */
import type { Redis } from 'ioredis';
import { runKeys } from '../runs/keys.js';
import { RedisRecordsLostError, type RedisFullError } from './errors.js';
import { formatBytes, inspectRedis, parseInfo, type RedisHealth } from './health.js';
import { isExecAbort, isFull, isOomError, memoryState, redisFullError } from './oom.js';

export interface RedisGuardOptions {
  /** The connection to watch and to ask (INFO, run records). */
  redis: Redis;
  /** Where Redis is, for messages (no password). */
  where: string;
  /** Key prefix of the runs. */
  prefix: string;
  onFatal(err: RedisFullError | RedisRecordsLostError): void;
  /** Runs whose records must exist: every run this process has worked on. */
  runsInUse?: () => Iterable<string>;
  logger?: { warn(message: string, meta?: Record<string, unknown>): void; info(message: string, meta?: Record<string, unknown>): void };
  /** The inspection made at start (ensureRedis); read again when absent. */
  health?: RedisHealth;
  /** How long writes may be refused for lack of memory before it is fatal. Default 5 s. */
  graceMs?: number;
  /** No OOM answer for this long, and memory under maxmemory: Redis accepts writes again. Default 2 s. */
  quietMs?: number;
  /**
   * Redis started (true) or stopped (false) refusing writes for lack of memory: the
   * runtime pauses its workers meanwhile, so the grace is not a loop of refused commands.
   */
  onPressure?: (full: boolean) => void;
  /** How often the runs' records are looked at. Default 1 s. */
  checkIntervalMs?: number;
}

interface Snapshot {
  stored: number;
  fed: number;
  activated: number;
}

/** Refused writes that come back within this long after an episode ended continue it. */
const RECUR_MS = 10_000;

export class RedisGuard {
  private health?: RedisHealth;
  /** The server's run_id when this process last knew its records were there. */
  private confirmedRunId?: string;
  private oom?: { since: number; last: number };
  /** The last episode of refused writes, so that one that comes back at once keeps counting from its start. */
  private lastEpisode = { since: 0, ended: 0 };
  private probing = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private fired = false;
  private firing = false;
  private lastRunCheck = 0;
  private checking = false;
  private wasDown = false;
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly settled = new Set<string>();
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly opts: RedisGuardOptions) {}

  /** What the server looked like at start (undefined when INFO could not be read). */
  get serverHealth(): RedisHealth | undefined {
    return this.health;
  }

  /** Starts watching; the server is read in the background (a Redis that is away must not hold up the start). */
  start(): void {
    const { redis } = this.opts;
    if (this.opts.health) this.baseline(this.opts.health);
    else {
      inspectRedis(redis).then(
        (h) => this.baseline(h),
        () => undefined, // INFO unavailable (renamed on some managed services): run_id changes go unseen, meta checks still work
      );
    }
    const onClose = () => {
      this.wasDown = true;
    };
    const onReady = () => {
      if (!this.wasDown) return;
      this.wasDown = false;
      void this.afterReconnect();
    };
    redis.on('close', onClose);
    redis.on('ready', onReady);
    this.listeners.push(() => redis.off('close', onClose), () => redis.off('ready', onReady));
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  private baseline(h: RedisHealth): void {
    this.health = h;
    this.confirmedRunId ??= h.runId || undefined;
  }

  /**
   * An error a Redis command gave (a worker's, a queue's, the feeder's…): OOM answers
   * and the transactions discarded because of them are what the guard looks for.
   */
  noteError(err: unknown): void {
    if (isOomError(err) || isExecAbort(err)) this.noteOom(err);
  }

  /**
   * This process handed `rows` more rows of the run to the workers (counted until the
   * next look at its records; before the first look, they are all that is known).
   */
  noteFed(runId: string, rows: number): void {
    if (rows <= 0 || this.settled.has(runId)) return;
    const snap = this.snapshots.get(runId);
    if (snap) snap.fed += rows;
    else this.snapshots.set(runId, { stored: rows, fed: rows, activated: 0 });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const off of this.listeners.splice(0)) off();
  }

  private noteOom(err: unknown): void {
    if (this.stopped || this.fired) return;
    const now = Date.now();
    if (!this.oom) {
      // EXECABORT alone does not say why; it starts an episode only next to an OOM answer.
      if (!isOomError(err)) return;
      const resumed = now - this.lastEpisode.ended < RECUR_MS;
      this.oom = { since: resumed ? this.lastEpisode.since : now, last: now };
      this.opts.onPressure?.(true);
      if (resumed) return;
      void memoryState(this.opts.redis).then((m) => {
        if (this.stopped || this.fired) return;
        this.opts.logger?.warn(
          `Redis at ${this.opts.where} refuses writes: out of memory${m ? ` (${formatBytes(m.used)} used of maxmemory ${formatBytes(m.max)})` : ''}; stopping in ${Math.round((this.opts.graceMs ?? 5000) / 1000)} s unless memory is freed`,
        );
      });
      return;
    }
    this.oom.last = now;
  }

  private fire(make: () => Promise<RedisFullError | RedisRecordsLostError>): void {
    if (this.firing || this.fired || this.stopped) return;
    this.firing = true;
    void make().then((err) => {
      if (this.fired || this.stopped) return;
      this.fired = true;
      this.opts.onFatal(err);
    });
  }

  private async currentRunId(): Promise<string | undefined> {
    try {
      return parseInfo(String(await this.opts.redis.info('server'))).get('run_id') || undefined;
    } catch {
      return undefined;
    }
  }

  private tick(): void {
    if (this.stopped || this.fired || this.firing) return;
    const now = Date.now();
    const oom = this.oom;
    if (oom) {
      if (now - oom.since >= (this.opts.graceMs ?? 5000)) {
        this.fire(() => redisFullError(this.opts.redis, this.opts.where, now - oom.since));
        return;
      }
      if (!this.probing && now - oom.last > (this.opts.quietMs ?? 2000)) {
        // Quiet is not enough (the paused workers write nothing): memory must be under the limit.
        this.probing = true;
        void memoryState(this.opts.redis)
          .then((m) => {
            if (this.oom !== oom || isFull(m) || this.stopped || this.fired) return;
            this.oom = undefined;
            this.lastEpisode = { since: oom.since, ended: Date.now() };
            this.opts.logger?.info(`Redis at ${this.opts.where} accepts writes again`);
            this.opts.onPressure?.(false);
          })
          .finally(() => {
            this.probing = false;
          });
      }
    }
    const unseen = [...(this.opts.runsInUse?.() ?? [])].some((id) => !this.snapshots.has(id) && !this.settled.has(id));
    if (unseen || now - this.lastRunCheck >= (this.opts.checkIntervalMs ?? 1000)) void this.checkRuns();
  }

  private async afterReconnect(): Promise<void> {
    const id = await this.currentRunId();
    const restarted = Boolean(id && this.confirmedRunId && id !== this.confirmedRunId);
    if (restarted) this.opts.logger?.info(`Redis at ${this.opts.where} restarted (run_id ${this.confirmedRunId!.slice(0, 8)}… → ${id!.slice(0, 8)}…); checking that the runs' records survived`);
    if ((await this.checkRuns()) && id) this.confirmedRunId = id;
  }

  /** Looks at the meta record of every run in use; a missing one that held rows is fatal. */
  private async checkRuns(): Promise<boolean> {
    if (this.checking || this.stopped || this.fired || this.firing) return false;
    const { redis } = this.opts;
    if (redis.status !== 'ready') return false;
    this.checking = true;
    try {
      const runs = [...(this.opts.runsInUse?.() ?? [])].filter((id) => !this.settled.has(id));
      this.lastRunCheck = Date.now();
      if (!runs.length) return true;
      const pipe = redis.pipeline();
      for (const id of runs) {
        const k = runKeys(this.opts.prefix, id);
        pipe.hmget(k.meta, 'id', 'state', 'stored', 'fed');
        pipe.hget(k.counts, 'activated');
      }
      const res = (await pipe.exec()) ?? [];
      const lost: Array<{ runId: string; last?: Snapshot }> = [];
      const unread: string[] = [];
      runs.forEach((runId, i) => {
        const [err, fields] = res[2 * i] ?? [];
        if (err || !Array.isArray(fields)) return;
        const [id, state, stored, fed] = fields as Array<string | null>;
        const before = this.snapshots.get(runId);
        if (!id) {
          // Only a run seen holding rows counts: a run dropped before its first row was stored held nothing.
          if (before && before.stored > 0) lost.push({ runId, last: before });
          else if (!before) unread.push(runId);
          return;
        }
        if (state === 'finished') {
          this.settled.add(runId);
          this.snapshots.delete(runId);
          return;
        }
        const activated = Number((res[2 * i + 1]?.[1] as string | null) ?? 0);
        this.snapshots.set(runId, { stored: Number(stored ?? 0), fed: Number(fed ?? 0), activated });
      });
      if (unread.length) {
        // Gone before this process first read it: it was active (the runs in use come from the
        // active set), so after a restart it was lost; without one it may have been dropped on purpose.
        const now = await this.currentRunId();
        if (now && this.confirmedRunId && now !== this.confirmedRunId) lost.push(...unread.map((runId) => ({ runId })));
      }
      if (lost.length) {
        this.fire(() => this.lostError(lost));
        return false;
      }
      return true;
    } catch {
      // Redis went away mid-check: the reconnect runs it again
      return false;
    } finally {
      this.checking = false;
    }
  }

  private async lostError(lost: Array<{ runId: string; last?: Snapshot }>): Promise<RedisRecordsLostError> {
    let cause: string;
    const now = await this.currentRunId();
    if (now && this.confirmedRunId && now !== this.confirmedRunId) {
      cause = `it restarted (run_id ${this.confirmedRunId.slice(0, 8)}… → ${now.slice(0, 8)}…) and came back without them`;
    } else {
      const evicted = await this.opts.redis
        .info('stats')
        .then((t) => Number(parseInfo(String(t)).get('evicted_keys') ?? 0))
        .catch(() => 0);
      cause =
        this.health && evicted > this.health.evictedKeys
          ? `it evicted ${evicted - this.health.evictedKeys} keys since this process started (maxmemory-policy ${this.health.maxmemoryPolicy ?? 'unknown'})`
          : 'its keys were deleted (FLUSHALL / FLUSHDB, or a cleanup of the prefix)';
    }
    const fed = lost.reduce((n, l) => n + (l.last?.fed ?? 0), 0);
    const activated = lost.reduce((n, l) => n + (l.last?.activated ?? 0), 0);
    const ids = lost.map((l) => l.runId);
    const enrolled = lost.every((l) => l.last)
      ? `${fed} users may have been enrolled at Okta (${fed} rows had been handed to the workers, ${activated} already activated)`
      : 'users may have been enrolled at Okta (how many is not known: the records vanished before this process first read them)';
    return new RedisRecordsLostError(
      `Redis lost this run's records: it restarted without persistence, was flushed, or evicted keys (here ${cause}). ` +
        `Run${ids.length > 1 ? 's' : ''} ${ids.join(', ')} cannot be finished or reported from Redis; ${enrolled} — re-run the file: the runner adopts existing factors.`,
      `No report was written (there is nothing left in Redis to write it from). Give Redis persistence (AOF) before the re-run: see docs/redis.md.`,
      ids,
    );
  }
}
