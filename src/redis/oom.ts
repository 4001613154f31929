/**
 * Telling a full Redis from other failures, and saying so: the OOM answers Redis
 * gives under maxmemory-policy noeviction ("OOM command not allowed when used memory
 * > 'maxmemory'"), the EXECABORT a transaction gets when one of its commands was
 * refused that way, the memory figures for the message, and a retry loop that gives
 * a full Redis a few seconds before it becomes one fatal error.
 */
import type { Redis } from 'ioredis';
import { RedisFullError } from './errors.js';
import { formatBytes, parseInfo } from './health.js';

const OOM = /(^|\s)OOM command not allowed\b|^OOM\b/;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : typeof err === 'string' ? err : '';
}

/** An OOM answer, or a transaction (or a script) discarded because of one. */
export function isOomError(err: unknown): boolean {
  if (OOM.test(messageOf(err))) return true;
  const previous = (err as { previousErrors?: unknown[] } | undefined)?.previousErrors;
  return Array.isArray(previous) && previous.some((e) => OOM.test(messageOf(e)));
}

/** "EXECABORT Transaction discarded because of previous errors." */
export function isExecAbort(err: unknown): boolean {
  return /^EXECABORT\b/.test(messageOf(err));
}

export interface MemoryState {
  used: number;
  max: number;
  policy?: string;
}

export async function memoryState(client: Redis): Promise<MemoryState | undefined> {
  try {
    const info = parseInfo(String(await client.info('memory')));
    return { used: Number(info.get('used_memory') ?? 0), max: Number(info.get('maxmemory') ?? 0), ...(info.get('maxmemory_policy') ? { policy: info.get('maxmemory_policy') } : {}) };
  } catch {
    return undefined;
  }
}

/** At (or over) maxmemory: writes are refused under noeviction. */
export function isFull(m: MemoryState | undefined): boolean {
  return Boolean(m && m.max > 0 && m.used >= m.max);
}

/**
 * An OOM answer; or an EXECABORT, which does not say why, while Redis is at its
 * memory limit.
 */
export async function isOutOfMemory(err: unknown, client: Redis): Promise<boolean> {
  if (isOomError(err)) return true;
  return isExecAbort(err) && isFull(await memoryState(client));
}

/** The one message for a full Redis: figures, what it means, the fix. */
export function redisFullMessage(where: string, m: MemoryState | undefined, refusingForMs: number): string {
  const figures = m
    ? `${formatBytes(m.used)} used of maxmemory ${m.max > 0 ? formatBytes(m.max) : '0 (no limit configured; the server itself is out of memory)'}${m.policy ? `, maxmemory-policy ${m.policy}` : ''}`
    : 'memory figures unavailable';
  return (
    `Redis at ${where} is out of memory (${figures}) and has refused writes for ${Math.max(1, Math.round(refusingForMs / 1000))} s ` +
    `("OOM command not allowed when used memory > 'maxmemory'"): nothing more can be recorded. ` +
    'Fix: give it more memory (`redis-cli CONFIG SET maxmemory 4gb`, or a larger node / the parameter group on a managed service) or free some (other data on this Redis, finished runs\' keys); ' +
    'a run needs about 150 bytes per stored row and 1 KB per row in flight (--max-in-flight).'
  );
}

/** Builds the fatal error for a full Redis (reads the memory figures). */
export async function redisFullError(client: Redis, where: string, refusingForMs: number, hint?: string): Promise<RedisFullError> {
  return new RedisFullError(redisFullMessage(where, await memoryState(client), refusingForMs), hint);
}

export interface OomGraceOptions {
  client: Redis;
  where: string;
  /** How long a full Redis is given before the error (default 5 s). */
  graceMs?: number;
  /** Pause between tries (default 1 s). */
  retryMs?: number;
  /** Undo what a failed try wrote (before the next try, and before giving up). */
  cleanUp?: () => Promise<void>;
  /** Once per OOM, before the pause (for a log line). */
  onRetry?: (m: MemoryState | undefined) => void;
  hint?: string;
}

/**
 * Runs `attempt` (which must be safe to repeat after cleanUp), trying again while
 * Redis refuses writes for lack of memory, for up to graceMs; then a RedisFullError.
 * Other errors pass through.
 */
export async function withOomGrace<T>(attempt: () => Promise<T>, o: OomGraceOptions): Promise<T> {
  const graceMs = o.graceMs ?? 5000;
  let firstOom: number | undefined;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(await isOutOfMemory(err, o.client))) throw err;
      firstOom ??= Date.now();
      // Deleting is allowed on a full Redis, and frees what this try stored.
      await o.cleanUp?.().catch(() => undefined);
      if (Date.now() - firstOom >= graceMs) throw await redisFullError(o.client, o.where, Date.now() - firstOom, o.hint);
      o.onRetry?.(await memoryState(o.client));
      await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
    }
  }
}
