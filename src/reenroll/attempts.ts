/**
 * The activation-attempt ledger: how many activations (enrollments and activation
 * restarts) each user has been given for a factor type, across every `run`,
 * `reenroll` and nightly run, so that nobody gets a fresh QR code every night forever.
 *
 * One Redis hash per user and factor type, `${prefix}:be:attempts:<userId>|<factorType>`,
 * never expiring on its own: `count`, and the last attempt counted (`last`: a token
 * naming the run, the row and the step, `lastAt`, `lastRun`). Counting is idempotent
 * per token, so a job retried after its charge (a 429, a crash) is not charged twice.
 */
import type { Redis } from 'ioredis';

export function attemptsKey(prefix: string, userId: string, factorType: string): string {
  return `${prefix}:be:attempts:${userId}|${factorType.toLowerCase()}`;
}

/** Token of one activation attempt: `<runId>:<row>:<step>` (step `e` = enrollment, `r1` = first restart). */
export function attemptToken(runId: string, row: number, step: string): string {
  return `${runId}:${row}:${step}`;
}

const CHARGE = `
-- KEYS: ledger ; ARGV: cap (0: none) token nowIso runId
-- returns {result, count}: result 0 = at the cap (not counted), 1 = this token was already counted, 2 = counted now
local n = tonumber(redis.call('HGET', KEYS[1], 'count')) or 0
if redis.call('HGET', KEYS[1], 'last') == ARGV[2] then return {1, n} end
local cap = tonumber(ARGV[1])
if cap > 0 and n >= cap then return {0, n} end
n = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[2], 'lastAt', ARGV[3], 'lastRun', ARGV[4])
return {2, n}
`;

export interface ChargeResult {
  /** false: the user is at the cap; nothing was counted and no activation may be started. */
  allowed: boolean;
  /** Attempts counted for this user and factor type, this one included when allowed. */
  count: number;
  /** false when this very attempt had been counted before (a retried job). */
  counted: boolean;
}

export interface LedgerEntry {
  count: number;
  last?: string;
  lastAt?: string;
  lastRun?: string;
}

type LedgerRedis = Redis & { beChargeAttempt(key: string, cap: string, token: string, now: string, runId: string): Promise<[number, number]> };

export class AttemptLedger {
  private readonly redis: LedgerRedis;

  constructor(redis: Redis, readonly prefix: string) {
    const r = redis as LedgerRedis;
    if (!(r as unknown as { beChargeAttempt?: unknown }).beChargeAttempt) r.defineCommand('beChargeAttempt', { numberOfKeys: 1, lua: CHARGE });
    this.redis = r;
  }

  /**
   * Count one activation attempt unless the user is at `cap` (undefined: no cap, always
   * counted). Call it before the enrollment / restart request, with the attempt's token.
   */
  async charge(userId: string, factorType: string, opts: { cap?: number; runId: string; row: number; step: string; now?: number }): Promise<ChargeResult> {
    const token = attemptToken(opts.runId, opts.row, opts.step);
    const [result, count] = await this.redis.beChargeAttempt(
      attemptsKey(this.prefix, userId, factorType),
      String(opts.cap ?? 0),
      token,
      new Date(opts.now ?? Date.now()).toISOString(),
      opts.runId,
    );
    return { allowed: result !== 0, count: Number(count), counted: result === 2 };
  }

  async get(userId: string, factorType: string): Promise<LedgerEntry> {
    const h = await this.redis.hgetall(attemptsKey(this.prefix, userId, factorType));
    return {
      count: Number(h.count ?? 0),
      ...(h.last ? { last: h.last } : {}),
      ...(h.lastAt ? { lastAt: h.lastAt } : {}),
      ...(h.lastRun ? { lastRun: h.lastRun } : {}),
    };
  }

  /**
   * Whether this row may not start another activation: the user is at `cap` and the
   * last attempt counted was not this row's own (a retried job keeps going).
   */
  async atCap(userId: string, factorType: string, cap: number | undefined, runId: string, row: number): Promise<LedgerEntry | undefined> {
    if (!cap) return undefined;
    const e = await this.get(userId, factorType);
    if (e.count < cap) return undefined;
    if (e.last?.startsWith(`${runId}:${row}:`)) return undefined;
    return e;
  }

  /** Forget a user's attempts (an operator gives them a fresh start). */
  async reset(userId: string, factorType: string): Promise<boolean> {
    return (await this.redis.del(attemptsKey(this.prefix, userId, factorType))) === 1;
  }
}

/** The failure text of a row whose user is at the cap. */
export function maxAttemptsSummary(count: number, cap: number): string {
  return `${count} activation attempt${count === 1 ? '' : 's'} made for this user and factor type (--max-attempts ${cap}): no new activation started`;
}

const ledgers = new WeakMap<Redis, AttemptLedger>();

/** The ledger on a run store's Redis connection (one per connection). */
export function ledgerOf(store: { redis: Redis; prefix: string }): AttemptLedger {
  let l = ledgers.get(store.redis);
  if (!l || l.prefix !== store.prefix) {
    l = new AttemptLedger(store.redis, store.prefix);
    ledgers.set(store.redis, l);
  }
  return l;
}
