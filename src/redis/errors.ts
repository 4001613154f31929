/**
 * The two ways a Redis that answers can still end a run: it is full and refuses
 * writes (RedisFullError), or it no longer holds a run's records
 * (RedisRecordsLostError). Both are fatal (exit 1); only the first can be resumed.
 */
import { FatalRunError } from '../errors.js';

/** Redis refuses writes (OOM under maxmemory-policy noeviction) and kept refusing through the grace. */
export class RedisFullError extends FatalRunError {}

/**
 * A run's records are gone from Redis (restart without persistence, flush, eviction).
 * No report can be made from Redis and `resume` has nothing to continue: re-run the
 * file instead.
 */
export class RedisRecordsLostError extends FatalRunError {
  constructor(message: string, hint: string, readonly runIds: string[]) {
    super(message, hint);
  }
}
