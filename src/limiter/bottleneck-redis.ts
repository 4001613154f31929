/**
 * Bottleneck 2.19.5 in cluster mode (datastore "ioredis"), made safe for Redis >= 7.
 *
 * The bug: Bottleneck's Lua scripts answer `redis.error_reply('SETTINGS_KEY_NOT_FOUND')`
 * (and UNKNOWN_CLIENT, OVERWEIGHT:w:max). Redis 7 prefixes such replies with "ERR ", so
 * RedisDatastore.runScript's checks (`e.message === "SETTINGS_KEY_NOT_FOUND"`) never
 * match: once the limiter's keys are gone (Redis restart without persistence, a flush of
 * the prefix, or a stall longer than the keys' TTL) it never re-runs `init` /
 * `register_client`, and every call fails for the rest of the process's life.
 *
 * The fix, in this one place: every script reply of a connection passes through the
 * connection's `__scriptArgs__` callback before runScript looks at it, so that callback
 * strips the leading "ERR " from exactly those three replies. It is applied per
 * connection (no global monkey-patching), only to connections this module creates or is
 * handed, and is a no-op on Redis 6 (the text has no prefix there).
 *
 * Bottleneck's other cluster traps, and how createClusterBottleneck avoids them:
 * - First process's settings win (its `init` writes settings only when absent): the id
 *   carries a hash of the settings, so processes started with other settings get their
 *   own limiter instead of silently running on the first one's.
 * - Recovery re-creates settings from the constructor, which for a reservoir means a full
 *   budget in a burst right after a Redis restart: use minTime / maxConcurrent (which
 *   carry no budget) rather than a reservoir with this helper; the project's shared
 *   limiter (index.ts) keeps budgets in its own scripts for that reason.
 * - RESP3: ioredis 6 speaks RESP3 by default and Bottleneck's scripts expect RESP2
 *   replies, so its connection is opened with `protocol: 2`.
 * - Stale limiters: `timeout` makes Bottleneck expire the keys of a limiter nobody uses;
 *   `clearDatastore: false` so a new process never wipes the others' state.
 * - Priorities are per process (the cluster only shares counts); the shared limiter
 *   keeps its lanes in Redis for that reason.
 */
import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { Redis, type RedisOptions } from 'ioredis';

/** The script replies Bottleneck's datastore compares against. */
const BOTTLENECK_REPLIES = /^ERR (SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT|OVERWEIGHT:)/;

/** Strips Redis 7's "ERR " from Bottleneck's own script replies; other errors untouched. */
export function normaliseBottleneckError<E>(err: E): E {
  if (err instanceof Error && BOTTLENECK_REPLIES.test(err.message)) {
    err.message = err.message.slice(4);
  }
  return err;
}

type ScriptCallback = (err: Error | null, replies: unknown) => void;
interface ScriptArgsConnection {
  __scriptArgs__(name: string, id: string, args: unknown[], cb: ScriptCallback): unknown[];
}

const FIXED = Symbol.for('bulk-enroll.bottleneck-redis7-fix');

/** Applies the Redis >= 7 fix to one Bottleneck connection (idempotent). Returns it. */
export function fixRedis7ScriptErrors<C extends Bottleneck.IORedisConnection | Bottleneck.RedisConnection>(connection: C): C {
  const conn = connection as unknown as ScriptArgsConnection & { [FIXED]?: true };
  if (conn[FIXED]) return connection;
  const original = conn.__scriptArgs__;
  if (typeof original !== 'function') {
    throw new TypeError(
      'Expected a Bottleneck 2.19 connection with a __scriptArgs__ method (the place the Redis 7 fix hooks into), ' +
        `got ${typeof original}: has the bottleneck package changed version?`,
    );
  }
  conn.__scriptArgs__ = function (this: ScriptArgsConnection, name, id, args, cb) {
    return original.call(this, name, id, args, (err, replies) => cb(err ? normaliseBottleneckError(err) : err, replies));
  };
  conn[FIXED] = true;
  return connection;
}

export interface ClusterBottleneckOptions {
  redisUrl: string;
  /** Key namespace; the limiter id starts with it (Bottleneck's keys are `b_<id>_…`). */
  prefix: string;
  /** What this limiter is for (e.g. "factors"). */
  name: string;
  /** Budget-free settings shared by every process: maxConcurrent, minTime, highWater, strategy… */
  settings: Pick<Bottleneck.ConstructorOptions, 'maxConcurrent' | 'minTime' | 'highWater' | 'strategy' | 'penalty'>;
  /** Keys of a limiter nobody uses expire after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Extra ioredis options (protocol is forced to 2). */
  redisOptions?: RedisOptions;
}

export interface ClusterBottleneck {
  readonly limiter: Bottleneck;
  /** `${prefix}:${name}:${settingsHash}` */
  readonly id: string;
  close(): Promise<void>;
}

/** The limiter id: prefix, name and a hash of the settings (so differing settings never share). */
export function clusterBottleneckId(prefix: string, name: string, settings: object): string {
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))));
  const hash = createHash('sha256').update(canonical).digest('hex').slice(0, 12);
  return `${prefix}:${name}:${hash}`;
}

/** A clustered Bottleneck on its own ioredis connection (RESP2), with the Redis 7 fix applied. */
export async function createClusterBottleneck(opts: ClusterBottleneckOptions): Promise<ClusterBottleneck> {
  const client = new Redis(opts.redisUrl, { ...opts.redisOptions, protocol: 2, lazyConnect: false });
  const connection = fixRedis7ScriptErrors(new Bottleneck.IORedisConnection({ client }));
  const id = clusterBottleneckId(opts.prefix, opts.name, opts.settings);
  const limiter = new Bottleneck({
    ...opts.settings,
    id,
    datastore: 'ioredis',
    connection,
    clearDatastore: false,
    timeout: opts.timeoutMs ?? 10 * 60_000,
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // A shared connection is only detached by limiter.disconnect(); close it ourselves
    // (that also ends the subscriber connection Bottleneck duplicated from ours).
    // (Bottleneck's disconnect returns undefined for a shared connection, a promise otherwise.)
    try {
      await limiter.disconnect(false);
    } catch {
      // already gone
    }
    await connection.disconnect(false);
    client.disconnect();
  };
  try {
    await limiter.ready();
  } catch (err) {
    await close();
    throw err;
  }
  return { limiter, id, close };
}
