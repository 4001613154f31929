/**
 * RunStore: the durable state of runs in Redis. Every write that keeps outcomes exact
 * and enrollment at most once goes through here, most of them as one Lua script so that
 * concurrent workers (in any number of processes) can't interleave. Rows are read and
 * written as RowState / RowOutcome; src/rows/codec.ts is the stored form.
 *
 * Scripts (keys first, then arguments; every key of a script shares the prefix, so a
 * prefix with a Redis Cluster hash tag keeps them in one slot):
 *  - FINALIZE: an outcome is written once (HSETNX), counted once; the row leaves the
 *    in-flight set, its cross-run claim is released, and the run is marked finished
 *    when its last row lands;
 *  - ROW_CLAIM: one claim per (user, factor type) per run held by the lowest row number
 *    (the later of two duplicate rows fails DUPLICATE_ROW whatever the arrival order),
 *    and one per prefix across runs (two runs never work on one user and factor type);
 *  - REFUSAL: E0000006 bookkeeping: whether any user was accepted, how many distinct users
 *    were refused;
 *  - WATCH / LOG_SEEN: a row starts watching its user for System Log events atomically
 *    with reading the events already seen for that user, so none is lost to a race.
 */
import type { Redis } from 'ioredis';
import type { RunSettings } from '../config.js';
import type { InputRow } from '../csv/input-row.js';
import { decodeInput, decodeOutcome, decodeProgress, encodeOutcome, encodeProgress } from '../rows/codec.js';
import type { OutcomeKind, RowOutcome } from '../rows/outcome.js';
import type { RefusalVerdict } from '../rows/lifecycle.js';
import type { RowState } from '../rows/state.js';
import type { EventFacts as SeenEvent } from '../rows/log-evidence.js';
import { globalKeys, runKeys, type RunKeys } from './keys.js';

/**
 * - `enqueuing`: its rows are being stored; `active`: workers work on it;
 * - `paused` (an operator's `pause`), `stopped` (a fatal error, or Ctrl-C of `run`): kept as
 *   they are, workers leave them alone until `unpause` / `resume`;
 * - `cancelled`: never worked on again; `finished`: every row has its outcome.
 */
export type RunState = 'enqueuing' | 'active' | 'paused' | 'stopped' | 'cancelled' | 'finished';
export const RUN_STATES: readonly RunState[] = ['enqueuing', 'active', 'paused', 'stopped', 'cancelled', 'finished'];

export interface RunMeta {
  id: string;
  state: RunState;
  /** Why the run is paused, stopped or cancelled (who, what). */
  stateReason?: string;
  stateAt?: string;
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
  /** The word Okta's dialect uses for an active factor, as first seen in this run (ACTIVE, or the seed's ACTIVATED). */
  activeStatus?: string;
}

export interface RunCounts {
  activated: number;
  expired: number;
  failed: number;
  done: number;
}

export interface RowRecords {
  outcome?: RowOutcome;
  input?: InputRow;
  state: RowState;
}

/** A row's holder of a (user, factor type) claim across runs: `<runId>:<row>`. */
export function claimHolder(runId: string, row: number): string {
  return `${runId}:${row}`;
}

/** The claim of one user and factor type: `<userId>|<factorType>`. */
export function claimKey(userId: string, factorType: string): string {
  return `${userId}|${factorType.toLowerCase()}`;
}

/** A row given by login, before its lookup: `login:<login lower case>|<factorType>`. */
export function loginClaimKey(login: string, factorType: string): string {
  return `login:${login.trim().toLowerCase()}|${factorType.toLowerCase()}`;
}

const FINALIZE = `
-- KEYS[1] outcomes  KEYS[2] counts  KEYS[3] inflight  KEYS[4] progress  KEYS[5] meta
-- KEYS[6] active runs  KEYS[7] pending logins  KEYS[8] cross-run claims  KEYS[9] watched users  KEYS[10] log seen
-- ARGV[1] row  ARGV[2] outcome record  ARGV[3] outcome  ARGV[4] runId  ARGV[5] finishedAt
-- ARGV[6] claim key ('' if none)  ARGV[7] claim holder  ARGV[8] userId ('' if none)
-- Output: 1 written, 0 the row already had an outcome (nothing changed)
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local done = redis.call('HINCRBY', KEYS[2], 'done', 1)
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if ARGV[6] ~= '' and redis.call('HGET', KEYS[8], ARGV[6]) == ARGV[7] then redis.call('HDEL', KEYS[8], ARGV[6]) end
if ARGV[8] ~= '' and redis.call('HGET', KEYS[9], ARGV[8]) == ARGV[1] then redis.call('HDEL', KEYS[9], ARGV[8]) end
local total = tonumber(redis.call('HGET', KEYS[5], 'total'))
if total and done >= total then
  local state = redis.call('HGET', KEYS[5], 'state')
  if state == 'active' or state == 'paused' or state == 'stopped' then
    redis.call('HSET', KEYS[5], 'state', 'finished', 'finishedAt', ARGV[5])
    redis.call('SREM', KEYS[6], ARGV[4])
    redis.call('DEL', KEYS[9], KEYS[10])
  end
end
return 1
`;

const ROW_CLAIM = `
-- KEYS[1] run claims  KEYS[2] pending logins (sorted by row)  KEYS[3] cross-run claims
-- ARGV[1] claim key  ARGV[2] row  ARGV[3] holder (runId:row)  ARGV[4] '1' when the row was given by login (now resolved)
-- Output: 'ok' | 'wait' (a lower row given by login is unresolved and may name the same user)
--       | 'dup:<row>' (a lower row of this run holds the user) | 'held:<holder>' (another run holds it)
local row = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  if (not cur) or row < cur then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    cur = row
  end
end
if cur and cur ~= row then return 'dup:' .. cur end
local low = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if low[2] and tonumber(low[2]) < row then return 'wait' end
if not cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local g = redis.call('HGET', KEYS[3], ARGV[1])
if g and g ~= ARGV[3] then return 'held:' .. g end
if not g then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
return 'ok'
`;

const FEED_CLAIM = `
-- KEYS[1] run claims  KEYS[2] pending logins ; ARGV[1] claim key  ARGV[2] row  ARGV[3] '1' for a row given by login
-- At feed time, in row order: the lowest row naming a user (by id) or a login holds its claim;
-- a row given by login is also registered as unresolved (rows after it wait before enrolling).
-- Output: the row holding the claim (this row, or a lower one: this row is then a duplicate)
local row = tonumber(ARGV[2])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], row, ARGV[2]) end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if (not cur) or row < cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return row
end
return cur
`;

const TAKE_CLAIM = `
-- KEYS[1] cross-run claims ; ARGV[1] claim key  ARGV[2] expected holder  ARGV[3] new holder
-- Output: 1 taken over, 0 the claim changed meanwhile
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
`;

const REFUSAL = `
-- KEYS[1] refusal hash (accepted)  KEYS[2] refused users (set)  KEYS[3] meta  KEYS[4] counts
-- ARGV[1] userId  ARGV[2] '1' to record this user's refusal  ARGV[3] distinct refused users that stop the run
-- Output: 'accepted' | 'refused-everywhere' | 'undecided' | 'not-recorded'
if redis.call('HGET', KEYS[1], 'accepted') == '1' then return 'accepted' end
if ARGV[2] == '1' then redis.call('SADD', KEYS[2], ARGV[1]) end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 'not-recorded' end
local n = redis.call('SCARD', KEYS[2])
if n >= tonumber(ARGV[3]) then return 'refused-everywhere' end
local total = tonumber(redis.call('HGET', KEYS[3], 'total'))
local done = tonumber(redis.call('HGET', KEYS[4], 'done')) or 0
if total and n >= total - done then return 'refused-everywhere' end
return 'undecided'
`;

const WATCH = `
-- KEYS[1] watched users (userId -> row)  KEYS[2] log seen (userId -> events)
-- ARGV[1] userId  ARGV[2] row
-- Output: the events already seen for the user (JSON), or false
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[2], ARGV[1])
`;

const LOG_SEEN = `
-- KEYS[1] watched users  KEYS[2] log seen  KEYS[3] run claims
-- ARGV[1] userId  ARGV[2] claim key of the user's push  ARGV[3] event (JSON, one line)  ARGV[4] most events kept per user
-- Events are kept as JSON lines (never decoded here: cjson would turn an empty list into an object).
-- Output: the watching row (a number) | 0 the user is in this run but not watched yet (the event is kept) | -1 not in this run
local row = redis.call('HGET', KEYS[1], ARGV[1])
if row then return tonumber(row) end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local s = cur and (cur .. '\\n' .. ARGV[3]) or ARGV[3]
local n = select(2, string.gsub(s, '\\n', '')) + 1
while n > tonumber(ARGV[4]) do
  s = string.sub(s, string.find(s, '\\n', 1, true) + 1)
  n = n - 1
end
redis.call('HSET', KEYS[2], ARGV[1], s)
return 0
`;

const FINISH_IF_DONE = `
-- KEYS[1] meta  KEYS[2] counts  KEYS[3] active runs ; ARGV[1] runId  ARGV[2] finishedAt
-- Output: 1 the run is now finished, 0 not (yet)
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
local done = tonumber(redis.call('HGET', KEYS[2], 'done')) or 0
if total and done >= total and redis.call('HGET', KEYS[1], 'state') == 'active' then
  redis.call('HSET', KEYS[1], 'state', 'finished', 'finishedAt', ARGV[2])
  redis.call('SREM', KEYS[3], ARGV[1])
  return 1
end
return 0
`;

const SET_STATE = `
-- KEYS[1] meta  KEYS[2] active runs ; ARGV[1] runId  ARGV[2] new state  ARGV[3] reason  ARGV[4] now  ARGV[5] allowed current states (comma separated)
-- Output: the state before ('' when the run does not exist), or 'refused:<state>' when the transition is not allowed
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return '' end
local allowed = false
for s in string.gmatch(ARGV[5], '[^,]+') do if s == cur then allowed = true end end
if not allowed then return 'refused:' .. cur end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'stateReason', ARGV[3], 'stateAt', ARGV[4])
if ARGV[2] == 'active' then redis.call('SADD', KEYS[2], ARGV[1]) else redis.call('SREM', KEYS[2], ARGV[1]) end
return cur
`;

type ScriptedRedis = Redis & {
  beFinalize(...args: string[]): Promise<number>;
  beRowClaim(...args: string[]): Promise<string>;
  beFeedClaim(...args: string[]): Promise<number>;
  beTakeClaim(...args: string[]): Promise<number>;
  beRefusal(...args: string[]): Promise<string>;
  beWatch(...args: string[]): Promise<string | null>;
  beLogSeen(...args: string[]): Promise<number>;
  beFinishIfDone(...args: string[]): Promise<number>;
  beSetState(...args: string[]): Promise<string>;
};

const SCRIPTS: Array<[keyof ScriptedRedis & string, number, string]> = [
  ['beFinalize', 10, FINALIZE],
  ['beRowClaim', 3, ROW_CLAIM],
  ['beFeedClaim', 2, FEED_CLAIM],
  ['beTakeClaim', 1, TAKE_CLAIM],
  ['beRefusal', 4, REFUSAL],
  ['beWatch', 2, WATCH],
  ['beLogSeen', 3, LOG_SEEN],
  ['beFinishIfDone', 3, FINISH_IF_DONE],
  ['beSetState', 2, SET_STATE],
];

export function defineRunScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  for (const [name, keys, lua] of SCRIPTS) {
    if (!(r as unknown as Record<string, unknown>)[name]) r.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return r;
}

/** Which states a run may move to a state from (anything else is refused with the current state named). */
const TRANSITIONS: Record<Exclude<RunState, 'enqueuing'>, readonly RunState[]> = {
  active: ['enqueuing', 'paused', 'stopped'],
  paused: ['active'],
  stopped: ['active', 'paused', 'enqueuing'],
  cancelled: ['enqueuing', 'active', 'paused', 'stopped'],
  finished: ['active'],
};

export type StateChange = { ok: true; from: RunState } | { ok: false; current?: RunState };

/** Most System Log events kept per user of a run who is not watched yet. */
const LOG_SEEN_PER_USER = 8;

export class RunStore {
  readonly redis: ScriptedRedis;
  private readonly metaCache = new Map<string, { meta: RunMeta; at: number }>();
  private readonly acceptedRuns = new Set<string>();
  private readonly activeStatusKnown = new Set<string>();

  constructor(redis: Redis, readonly prefix: string) {
    this.redis = defineRunScripts(redis);
  }

  keys(runId: string): RunKeys {
    return runKeys(this.prefix, runId);
  }

  get global() {
    return globalKeys(this.prefix);
  }

  // ---- runs ----

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
      state: RUN_STATES.includes(h.state as RunState) ? (h.state as RunState) : 'enqueuing',
      createdAt: h.createdAt ?? '',
      command: h.command ?? 'run',
      stored: Number(h.stored ?? 0),
      fed: Number(h.fed ?? 0),
      settings: JSON.parse(h.settings ?? '{}') as RunSettings,
    };
    const optional = { stateReason: h.stateReason, stateAt: h.stateAt, finishedAt: h.finishedAt, file: h.file, fileName: h.fileName, sha256: h.sha256, rerunOf: h.rerunOf, activeStatus: h.activeStatus };
    for (const [key, value] of Object.entries(optional)) if (value) (meta as unknown as Record<string, string>)[key] = value;
    if (h.bytes) meta.bytes = Number(h.bytes);
    if (h.total) meta.total = Number(h.total);
    if (h.logState === 'ok' || h.logState === 'forbidden') meta.logState = h.logState;
    this.metaCache.set(runId, { meta, at: Date.now() });
    return meta;
  }

  forgetMeta(runId: string): void {
    this.metaCache.delete(runId);
  }

  /**
   * Move a run to `state` if its current state allows it (see TRANSITIONS). Only active
   * runs are in the active set, so feeders, reconcilers, watchers and jobs leave the others alone.
   */
  async setState(runId: string, state: Exclude<RunState, 'enqueuing'>, reason = ''): Promise<StateChange> {
    const k = this.keys(runId);
    const r = await this.redis.beSetState(k.meta, this.global.active, runId, state, reason, new Date().toISOString(), TRANSITIONS[state].join(','));
    this.metaCache.delete(runId);
    if (r === '') return { ok: false };
    if (r.startsWith('refused:')) return { ok: false, current: r.slice(8) as RunState };
    const from = r as RunState;
    if (state === 'active' && from === 'stopped') {
      // Refusals recorded before a stop are stale: a role may have been granted since.
      await this.redis.del(k.refusal, k.refused);
      this.acceptedRuns.delete(runId);
    }
    if (state === 'active') await this.redis.beFinishIfDone(k.meta, k.counts, this.global.active, runId, new Date().toISOString());
    return { ok: true, from };
  }

  /** The input is stored: workers may start feeding it. */
  async activate(runId: string): Promise<void> {
    await this.setState(runId, 'active', '');
  }

  async markRecovering(ms: number): Promise<void> {
    await this.redis.set(this.global.recovering, String(Date.now()), 'PX', ms);
    this.recoveringCache = { value: true, at: Date.now() };
  }

  private recoveringCache = { value: false, at: 0 };

  /** After a Redis outage: enrollments look before they enroll for a while. */
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

  /** Record the dialect's word for an active factor the first time a run sees one. */
  async learnActiveStatus(runId: string, status: string): Promise<void> {
    if (!status || this.activeStatusKnown.has(runId)) return;
    this.activeStatusKnown.add(runId);
    await this.redis.hsetnx(this.keys(runId).meta, 'activeStatus', status);
  }

  async runOfFile(sha256: string): Promise<string | undefined> {
    return (await this.redis.hget(this.global.bySha, sha256)) ?? undefined;
  }

  async setTotal(runId: string, total: number): Promise<void> {
    await this.redis.hset(this.keys(runId).meta, 'total', String(total));
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

  async outcomeCountsAsRecord(runId: string): Promise<Record<OutcomeKind | 'pending', number> & { total?: number; done: number }> {
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

  // ---- rows ----

  /** A row's outcome, input and state in one round trip. */
  async rowRecords(runId: string, row: number): Promise<RowRecords> {
    const k = this.keys(runId);
    const field = String(row);
    const res = await this.redis.pipeline().hget(k.outcomes, field).hget(k.input, field).hget(k.progress, field).exec();
    const value = (i: number): string | null => {
      const entry = res?.[i];
      if (!entry) return null;
      if (entry[0]) throw entry[0];
      return (entry[1] as string | null) ?? null;
    };
    const outcome = decodeOutcome(value(0));
    const input = value(1);
    return { ...(outcome ? { outcome } : {}), ...(input ? { input: decodeInput(row, input) } : {}), state: decodeProgress(value(2)) };
  }

  async getRowState(runId: string, row: number): Promise<RowState> {
    return decodeProgress(await this.redis.hget(this.keys(runId).progress, String(row)));
  }

  async setRowState(runId: string, row: number, state: RowState): Promise<void> {
    await this.redis.hset(this.keys(runId).progress, String(row), encodeProgress(state));
  }

  async getOutcome(runId: string, row: number): Promise<RowOutcome | undefined> {
    return decodeOutcome(await this.redis.hget(this.keys(runId).outcomes, String(row)));
  }

  /**
   * Write a row's final outcome once. Returns false when it already had one. `claim` (the
   * row's user and factor type) releases the row's cross-run claim.
   */
  async finalize(runId: string, row: number, outcome: RowOutcome, claim?: { userId: string; factorType: string }): Promise<boolean> {
    const k = this.keys(runId);
    const r = await this.redis.beFinalize(...this.finalizeArgs(k, runId, row, outcome, claim));
    return r === 1;
  }

  /** FINALIZE's keys and arguments, for callers that pipeline many (ingest, the feeder). */
  finalizeArgs(k: RunKeys, runId: string, row: number, outcome: RowOutcome, claim?: { userId: string; factorType: string }): string[] {
    return [
      k.outcomes,
      k.counts,
      k.inflight,
      k.progress,
      k.meta,
      this.global.active,
      k.pending,
      this.global.claims,
      k.byUser,
      k.logSeen,
      String(row),
      encodeOutcome(outcome),
      outcome.outcome,
      runId,
      outcome.finishedAt,
      claim ? claimKey(claim.userId, claim.factorType) : '',
      claimHolder(runId, row),
      outcome.userId ?? '',
    ];
  }

  /**
   * Claim (user, factor type) for this row, in this run and across runs. A claim held by
   * another run is taken over when that run is no longer active or its row has ended.
   */
  async claimRow(runId: string, row: number, userId: string, factorType: string, byLogin: boolean): Promise<'ok' | 'took-over' | 'wait' | { duplicateOf: number } | { heldBy: string }> {
    const k = this.keys(runId);
    const key = claimKey(userId, factorType);
    const mine = claimHolder(runId, row);
    const r = await this.redis.beRowClaim(k.claims, k.pending, this.global.claims, key, String(row), mine, byLogin ? '1' : '0');
    if (r === 'ok' || r === 'wait') return r;
    if (r.startsWith('dup:')) return { duplicateOf: Number(r.slice(4)) };
    const holder = r.slice(5);
    if (await this.holderIsDone(holder)) {
      if ((await this.redis.beTakeClaim(this.global.claims, key, holder, mine)) === 1) return 'took-over';
      return 'wait';
    }
    return { heldBy: holder };
  }

  /** Whether the holder of a cross-run claim no longer works on it: its run is not active, or its row has an outcome. */
  private async holderIsDone(holder: string): Promise<boolean> {
    const at = holder.lastIndexOf(':');
    const runId = holder.slice(0, at);
    const row = Number(holder.slice(at + 1));
    const meta = await this.getMeta(runId, 1000);
    if (!meta || (meta.state !== 'active' && meta.state !== 'enqueuing')) return true;
    return (await this.redis.hexists(this.keys(runId).outcomes, String(row))) === 1;
  }

  /** FEED_CLAIM's keys and arguments for a row being fed (pipelined by the feeder). */
  feedClaimArgs(runId: string, input: InputRow): string[] {
    const k = this.keys(runId);
    const key = input.userId ? claimKey(input.userId, input.factorType) : loginClaimKey(input.login ?? '', input.factorType);
    return [k.claims, k.pending, key, String(input.row), input.userId ? '0' : '1'];
  }

  /** The user id a login resolved to earlier in this run (one lookup per distinct login). */
  async cachedLogin(runId: string, login: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys(runId).logins, login.trim().toLowerCase())) ?? undefined;
  }

  async cacheLogin(runId: string, login: string, userId: string): Promise<void> {
    await this.redis.hset(this.keys(runId).logins, login.trim().toLowerCase(), userId);
  }

  // ---- refusals (E0000006, E0000001 policies) ----

  /** Record that Okta refused this user (E0000006) and say what it means for the run so far. */
  async noteRefusal(runId: string, userId: string, threshold: number): Promise<RefusalVerdict> {
    return this.refusal(runId, userId, true, threshold);
  }

  async refusalVerdict(runId: string, userId: string, threshold: number): Promise<RefusalVerdict> {
    return this.refusal(runId, userId, false, threshold);
  }

  private async refusal(runId: string, userId: string, record: boolean, threshold: number): Promise<RefusalVerdict> {
    const k = this.keys(runId);
    return (await this.redis.beRefusal(k.refusal, k.refused, k.meta, k.counts, userId, record ? '1' : '0', String(threshold))) as RefusalVerdict;
  }

  /**
   * Okta created or restarted an activation for a user of this run: the credentials can
   * change users (held E0000006 rows are per-user refusals), and the run of policy
   * refusals without a success is broken.
   */
  async noteEnrolled(runId: string): Promise<void> {
    const k = this.keys(runId);
    const pipe = this.redis.pipeline().set(k.policyRefusals, '0');
    if (!this.acceptedRuns.has(runId)) pipe.hset(k.refusal, 'accepted', '1');
    const res = await pipe.exec();
    for (const [err] of res ?? []) if (err) throw err;
    this.acceptedRuns.add(runId);
  }

  /** An enroll refused with no factor created (a policy): how many in a row without a success. */
  async notePolicyRefusal(runId: string): Promise<number> {
    return this.redis.incr(this.keys(runId).policyRefusals);
  }

  // ---- System Log ----

  /** A push row starts watching its user; returns the events already seen for that user in this run. */
  async watchUser(runId: string, userId: string, row: number): Promise<SeenEvent[]> {
    const k = this.keys(runId);
    const seen = await this.redis.beWatch(k.byUser, k.logSeen, userId, String(row));
    if (!seen) return [];
    const events: SeenEvent[] = [];
    for (const line of seen.split('\n')) {
      try {
        const e = JSON.parse(line) as SeenEvent;
        if (e && typeof e === 'object') events.push(e);
      } catch {
        // a damaged line is no evidence
      }
    }
    return events;
  }

  /**
   * The watcher read an activation event for a user: the row watching them (a number), 0
   * when the user is in this run but not watched yet (the event is kept for that row), -1
   * when the user is not in this run.
   */
  async logEventSeen(runId: string, userId: string, event: SeenEvent): Promise<number> {
    const k = this.keys(runId);
    return this.redis.beLogSeen(k.byUser, k.logSeen, k.claims, userId, claimKey(userId, 'push'), JSON.stringify(event), String(LOG_SEEN_PER_USER));
  }

  async unwatchUser(runId: string, userId: string): Promise<void> {
    await this.redis.hdel(this.keys(runId).byUser, userId);
  }

  // ---- in flight ----

  async inflightCount(runId: string): Promise<number> {
    return this.redis.scard(this.keys(runId).inflight);
  }

  /** Row numbers in flight, ascending (a plain set, bounded by --max-in-flight: half the memory of a sorted set). */
  async inflightAll(runId: string): Promise<number[]> {
    const rows = await this.redis.smembers(this.keys(runId).inflight);
    return rows.map(Number).sort((a, b) => a - b);
  }
}

