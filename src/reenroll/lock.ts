/**
 * The nightly run lock: one nightly re-enrollment per schedule at a time. A Redis hash
 * with a TTL, kept alive by the holder's heartbeat, recording the BullMQ job id that
 * holds it (and the run it started). Another tick finds it held and is skipped; the
 * same job id may take it over: that is BullMQ running a stalled nightly job again
 * (its worker died), not an overlap, and it resumes the run the lock names.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

const ACQUIRE = `
-- KEYS: lock ; ARGV: jobId token ttlMs nowIso owner
local cur = redis.call('HGET', KEYS[1], 'jobId')
if cur and cur ~= ARGV[1] then return 'held' end
local result = 'acquired'
if cur then
  result = 'takeover'
  redis.call('HSET', KEYS[1], 'token', ARGV[2], 'owner', ARGV[5], 'takenOverAt', ARGV[4])
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'jobId', ARGV[1], 'token', ARGV[2], 'owner', ARGV[5], 'since', ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return result
`;

const EXTEND = `
-- KEYS: lock ; ARGV: token ttlMs
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

const SET_FIELD = `
-- KEYS: lock ; ARGV: token field value
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
`;

const RELEASE = `
-- KEYS: lock ; ARGV: token
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

export interface LockRecord {
  jobId: string;
  /** host:pid of the process holding it now. */
  owner?: string;
  since?: string;
  takenOverAt?: string;
  /** The run this job started (set right after the run id is chosen, before its rows are stored). */
  runId?: string;
  /** Milliseconds left before it expires without a heartbeat. */
  ttlMs?: number;
}

export type AcquireResult = { kind: 'acquired' | 'takeover'; record: LockRecord } | { kind: 'held'; record: LockRecord };

type LockRedis = Redis & {
  beNightlyAcquire(key: string, jobId: string, token: string, ttl: string, now: string, owner: string): Promise<string>;
  beNightlyExtend(key: string, token: string, ttl: string): Promise<number>;
  beNightlySet(key: string, token: string, field: string, value: string): Promise<number>;
  beNightlyRelease(key: string, token: string): Promise<number>;
};

function scripted(redis: Redis): LockRedis {
  const r = redis as LockRedis;
  if (!(r as unknown as { beNightlyAcquire?: unknown }).beNightlyAcquire) {
    r.defineCommand('beNightlyAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    r.defineCommand('beNightlyExtend', { numberOfKeys: 1, lua: EXTEND });
    r.defineCommand('beNightlySet', { numberOfKeys: 1, lua: SET_FIELD });
    r.defineCommand('beNightlyRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return r;
}

export class RunLock {
  private readonly redis: LockRedis;

  constructor(
    redis: Redis,
    readonly key: string,
    readonly ttlMs: number,
  ) {
    this.redis = scripted(redis);
  }

  async acquire(jobId: string, token: string, now = Date.now()): Promise<AcquireResult> {
    const kind = (await this.redis.beNightlyAcquire(this.key, jobId, token, String(this.ttlMs), new Date(now).toISOString(), `${hostname()}:${process.pid}`)) as AcquireResult['kind'];
    const record = (await this.read()) ?? { jobId };
    return { kind, record } as AcquireResult;
  }

  async read(): Promise<LockRecord | undefined> {
    const [h, ttl] = await Promise.all([this.redis.hgetall(this.key), this.redis.pttl(this.key)]);
    if (!h.jobId) return undefined;
    return {
      jobId: h.jobId,
      ...(h.owner ? { owner: h.owner } : {}),
      ...(h.since ? { since: h.since } : {}),
      ...(h.takenOverAt ? { takenOverAt: h.takenOverAt } : {}),
      ...(h.runId ? { runId: h.runId } : {}),
      ...(ttl >= 0 ? { ttlMs: ttl } : {}),
    };
  }

  /** Keep it alive; false when it is no longer this holder's (expired, or taken over). */
  async extend(token: string): Promise<boolean> {
    return (await this.redis.beNightlyExtend(this.key, token, String(this.ttlMs))) === 1;
  }

  async setRunId(token: string, runId: string): Promise<boolean> {
    return (await this.redis.beNightlySet(this.key, token, 'runId', runId)) === 1;
  }

  async release(token: string): Promise<boolean> {
    return (await this.redis.beNightlyRelease(this.key, token)) === 1;
  }

  /**
   * Heartbeat every ttl/3 until stopped. `onLost` is called once when the lock turns out
   * to be someone else's; a Redis error is logged by the caller and retried next beat.
   */
  heartbeat(token: string, onLost: () => void, onError: (err: Error) => void): { stop(): void } {
    let stopped = false;
    const t = setInterval(
      () => {
        this.extend(token)
          .then((ok) => {
            if (!ok && !stopped) {
              stopped = true;
              clearInterval(t);
              onLost();
            }
          })
          .catch((err: unknown) => onError(err as Error));
      },
      Math.max(50, Math.floor(this.ttlMs / 3)),
    );
    return {
      stop: () => {
        stopped = true;
        clearInterval(t);
      },
    };
  }
}
