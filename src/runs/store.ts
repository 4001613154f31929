/**
 * RunStore: the durable state of runs in Redis. Every write that makes outcomes
 * exact and enrollment idempotent goes through here, most of them as one Lua script
 * so that concurrent workers can't interleave:
 *  - finalize(): an outcome is written once (HSETNX), counted once, the row leaves the
 *    in-flight set, and the run is marked finished when the last row lands;
 *  - claimMin(): one claim per (user, factor type) held by the lowest row number, so
 *    that the later of two duplicate rows fails DUPLICATE_ROW whatever the arrival order.
 */
import type { Redis } from 'ioredis';
import type { RunSettings } from '../config.js';
import { globalKeys, runKeys, type RunKeys } from './keys.js';
import { parseJson, type Outcome, type OutcomeRecord, type Progress } from './records.js';

export type RunState = 'enqueuing' | 'active' | 'finished';

export interface RunMeta {
  id: string;
  state: RunState;
  createdAt: string;
  finishedAt?: string;
  command: string;
  file?: string;
  fileName?: string;
  sha256?: string;
  bytes?: number;
  /** Known after the first pass (CSV); undefined while a streamed source is still being read. */
  total?: number;
  /** Rows stored so far. */
  stored: number;
  /** Rows handed to the queues so far (the feed cursor: rows 1..fed). */
  fed: number;
  settings: RunSettings;
  /** An earlier run of the same file (same SHA-256): its factors may exist, so enrollments look first. */
  rerunOf?: string;
  /** System Log detection: 'forbidden' once Okta refused the log to these credentials (polling then). */
  logState?: 'ok' | 'forbidden';
}

export interface RunCounts {
  activated: number;
  expired: number;
  failed: number;
  done: number;
}

const FINALIZE = `
-- KEYS: outcomes counts inflight progress meta active pending
-- ARGV: row outcomeJson outcome runId finishedAt
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local done = redis.call('HINCRBY', KEYS[2], 'done', 1)
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[5], 'total'))
if total and done >= total and redis.call('HGET', KEYS[5], 'state') == 'active' then
  redis.call('HSET', KEYS[5], 'state', 'finished', 'finishedAt', ARGV[5])
  redis.call('SREM', KEYS[6], ARGV[4])
end
return 1
`;

const CLAIM_MIN = `
-- KEYS: claims pending ; ARGV: claimKey row
-- The lowest row number holds the claim. Also marks a login row as resolved.
local row = tonumber(ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if (not cur) or row < cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return row
end
return cur
`;

const ENROLL_GATE = `
-- KEYS: claims pending ; ARGV: claimKey row
-- 'wait' while a lower row given by login is unresolved (it may name the same user);
-- then the row may enroll only if it holds the claim.
local row = tonumber(ARGV[2])
local low = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if low[2] and tonumber(low[2]) < row then return 'wait' end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == ARGV[2] then return 'ok' end
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 'ok'
end
return 'dup:' .. cur
`;

const FINISH_IF_DONE = `
-- KEYS: meta counts active ; ARGV: runId finishedAt
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
local done = tonumber(redis.call('HGET', KEYS[2], 'done')) or 0
if total and done >= total and redis.call('HGET', KEYS[1], 'state') == 'active' then
  redis.call('HSET', KEYS[1], 'state', 'finished', 'finishedAt', ARGV[2])
  redis.call('SREM', KEYS[3], ARGV[1])
  return 1
end
return 0
`;

type ScriptedRedis = Redis & {
  beFinalize(k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, k7: string, ...argv: string[]): Promise<number>;
  beClaimMin(k1: string, k2: string, a1: string, a2: string): Promise<number>;
  beEnrollGate(k1: string, k2: string, a1: string, a2: string): Promise<string>;
  beFinishIfDone(k1: string, k2: string, k3: string, a1: string, a2: string): Promise<number>;
};

export function defineRunScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (!(r as unknown as { beFinalize?: unknown }).beFinalize) {
    r.defineCommand('beFinalize', { numberOfKeys: 7, lua: FINALIZE });
    r.defineCommand('beClaimMin', { numberOfKeys: 2, lua: CLAIM_MIN });
    r.defineCommand('beEnrollGate', { numberOfKeys: 2, lua: ENROLL_GATE });
    r.defineCommand('beFinishIfDone', { numberOfKeys: 3, lua: FINISH_IF_DONE });
  }
  return r;
}

export class RunStore {
  readonly redis: ScriptedRedis;
  private readonly metaCache = new Map<string, { meta: RunMeta; at: number }>();

  constructor(redis: Redis, readonly prefix: string) {
    this.redis = defineRunScripts(redis);
  }

  keys(runId: string): RunKeys {
    return runKeys(this.prefix, runId);
  }

  get global() {
    return globalKeys(this.prefix);
  }

  async createRun(meta: Omit<RunMeta, 'stored' | 'fed' | 'state'>): Promise<void> {
    const k = this.keys(meta.id);
    const fields: Record<string, string> = {
      id: meta.id,
      state: 'enqueuing',
      createdAt: meta.createdAt,
      command: meta.command,
      stored: '0',
      fed: '0',
      settings: JSON.stringify(meta.settings),
    };
    if (meta.file) fields.file = meta.file;
    if (meta.fileName) fields.fileName = meta.fileName;
    if (meta.sha256) fields.sha256 = meta.sha256;
    if (meta.bytes !== undefined) fields.bytes = String(meta.bytes);
    if (meta.total !== undefined) fields.total = String(meta.total);
    if (meta.rerunOf) fields.rerunOf = meta.rerunOf;
    const m = this.redis.multi().hset(k.meta, fields).zadd(this.global.runs, Date.parse(meta.createdAt), meta.id);
    if (meta.sha256) m.hset(this.global.bySha, meta.sha256, meta.id);
    await m.exec();
  }

  async getMeta(runId: string, maxAgeMs = 0): Promise<RunMeta | undefined> {
    const cached = this.metaCache.get(runId);
    if (cached && maxAgeMs > 0 && Date.now() - cached.at < maxAgeMs) return cached.meta;
    const h = await this.redis.hgetall(this.keys(runId).meta);
    if (!h.id) return undefined;
    const meta: RunMeta = {
      id: h.id,
      state: (h.state as RunState) ?? 'enqueuing',
      createdAt: h.createdAt ?? '',
      finishedAt: h.finishedAt || undefined,
      command: h.command ?? 'run',
      file: h.file || undefined,
      fileName: h.fileName || undefined,
      sha256: h.sha256 || undefined,
      bytes: h.bytes ? Number(h.bytes) : undefined,
      total: h.total ? Number(h.total) : undefined,
      stored: Number(h.stored ?? 0),
      fed: Number(h.fed ?? 0),
      settings: JSON.parse(h.settings ?? '{}') as RunSettings,
      rerunOf: h.rerunOf || undefined,
      logState: (h.logState as RunMeta['logState']) || undefined,
    };
    this.metaCache.set(runId, { meta, at: Date.now() });
    return meta;
  }

  /** After a Redis outage: enrollments look before they enroll for `ms`. */
  async markRecovering(ms: number): Promise<void> {
    await this.redis.set(this.global.recovering, String(Date.now()), 'PX', ms);
    this.recoveringCache = { value: true, at: Date.now() };
  }

  private recoveringCache = { value: false, at: 0 };

  async isRecovering(): Promise<boolean> {
    if (Date.now() - this.recoveringCache.at < 1000) return this.recoveringCache.value;
    const v = (await this.redis.exists(this.global.recovering)) === 1;
    this.recoveringCache = { value: v, at: Date.now() };
    return v;
  }

  async setLogState(runId: string, state: 'ok' | 'forbidden'): Promise<void> {
    await this.redis.hset(this.keys(runId).meta, 'logState', state);
    this.metaCache.delete(runId);
  }

  /** A push factor of this row waits for its user: the System Log watcher may settle it. */
  async watchUser(runId: string, userId: string, row: number): Promise<void> {
    await this.redis.hset(this.keys(runId).byUser, userId, String(row));
  }

  /** The latest run of a file with this SHA-256, if any. */
  async runOfFile(sha256: string): Promise<string | undefined> {
    return (await this.redis.hget(this.global.bySha, sha256)) ?? undefined;
  }

  async setTotal(runId: string, total: number): Promise<void> {
    await this.redis.hset(this.keys(runId).meta, 'total', String(total));
  }

  /** The input is stored: workers may start feeding it. */
  async activate(runId: string): Promise<void> {
    const k = this.keys(runId);
    await this.redis.multi().hset(k.meta, 'state', 'active').sadd(this.global.active, runId).exec();
    await this.redis.beFinishIfDone(k.meta, k.counts, this.global.active, runId, new Date().toISOString());
  }

  async activeRuns(): Promise<string[]> {
    return this.redis.smembers(this.global.active);
  }

  async listRuns(limit = 50): Promise<string[]> {
    return this.redis.zrevrange(this.global.runs, 0, limit - 1);
  }

  async counts(runId: string): Promise<RunCounts> {
    const h = await this.redis.hgetall(this.keys(runId).counts);
    return {
      activated: Number(h.activated ?? 0),
      expired: Number(h.expired ?? 0),
      failed: Number(h.failed ?? 0),
      done: Number(h.done ?? 0),
    };
  }

  async getProgress(runId: string, row: number): Promise<Progress> {
    return parseJson<Progress>(await this.redis.hget(this.keys(runId).progress, String(row))) ?? {};
  }

  async setProgress(runId: string, row: number, p: Progress): Promise<void> {
    await this.redis.hset(this.keys(runId).progress, String(row), JSON.stringify(p));
  }

  async getOutcome(runId: string, row: number): Promise<OutcomeRecord | undefined> {
    return parseJson<OutcomeRecord>(await this.redis.hget(this.keys(runId).outcomes, String(row)));
  }

  async getInput(runId: string, row: number): Promise<string | null> {
    return this.redis.hget(this.keys(runId).input, String(row));
  }

  /** Write a row's final outcome once. Returns false when it already had one. */
  async finalize(runId: string, row: number, rec: OutcomeRecord): Promise<boolean> {
    const k = this.keys(runId);
    const r = await this.redis.beFinalize(
      k.outcomes,
      k.counts,
      k.inflight,
      k.progress,
      k.meta,
      this.global.active,
      k.pending,
      String(row),
      JSON.stringify(rec),
      rec.o,
      runId,
      rec.fin,
    );
    return r === 1;
  }

  /** Claim (user, factor type) for this row; returns the row holding the claim (lowest wins). */
  async claimMin(runId: string, claimKey: string, row: number): Promise<number> {
    const k = this.keys(runId);
    return this.redis.beClaimMin(k.claims, k.pending, claimKey, String(row));
  }

  async enrollGate(runId: string, claimKey: string, row: number): Promise<'ok' | 'wait' | { duplicateOf: number }> {
    const k = this.keys(runId);
    const r = await this.redis.beEnrollGate(k.claims, k.pending, claimKey, String(row));
    if (r === 'ok' || r === 'wait') return r;
    return { duplicateOf: Number(r.slice(4)) };
  }

  async inflightCount(runId: string): Promise<number> {
    return this.redis.scard(this.keys(runId).inflight);
  }

  /**
   * Row numbers in flight, ascending. A plain set (bounded by --max-in-flight) rather than a
   * sorted set: it costs about half the Redis memory per row.
   */
  async inflightAll(runId: string): Promise<number[]> {
    const rows = await this.redis.smembers(this.keys(runId).inflight);
    return rows.map(Number).sort((a, b) => a - b);
  }


  async outcomeCountsAsRecord(runId: string): Promise<Record<Outcome | 'pending', number> & { total?: number; done: number }> {
    const [meta, c] = await Promise.all([this.getMeta(runId), this.counts(runId)]);
    const total = meta?.total;
    return {
      activated: c.activated,
      expired: c.expired,
      failed: c.failed,
      pending: total !== undefined ? Math.max(0, total - c.done) : 0,
      done: c.done,
      total,
    };
  }
}
