/**
 * Storing a new run's rows on a Redis that may be full: each try that Redis refuses
 * for lack of memory is removed again (its keys deleted, the file's earlier run given
 * back its place), tries go on for a short grace, then one RedisFullError saying
 * memory, and nothing is left queued.
 */
import { newRunId } from '../runs/keys.js';
import type { RunStore } from '../runs/store.js';
import { withOomGrace, type MemoryState } from './oom.js';

/** Deletes what storing `runId` wrote; `previous` is the run the file's SHA-256 pointed at before. */
export async function discardPartialRun(store: RunStore, runId: string, o: { sha256?: string; previous?: string } = {}): Promise<void> {
  const k = store.keys(runId);
  const keys = [k.meta, k.input, `${k.input}:fileRow`, k.outcomes, k.counts, k.progress, k.inflight, k.claims, k.pending, k.byUser];
  // Deletes first, and outside MULTI: a full Redis refuses every command queued in a
  // transaction, but runs plain deletes, which make room for the writes after them.
  const res = await store.redis.pipeline().del(...keys).zrem(store.global.runs, runId).srem(store.global.active, runId).exec();
  for (const [err] of res ?? []) if (err) throw err;
  if (o.sha256 && (await store.runOfFile(o.sha256)) === runId) {
    if (o.previous) await store.redis.hset(store.global.bySha, o.sha256, o.previous);
    else await store.redis.hdel(store.global.bySha, o.sha256);
  }
}

export interface StoreWithinMemoryOptions {
  /** Where Redis is, for the message. */
  where: string;
  /** The input's SHA-256 (a CSV): its earlier run keeps its place if this one is removed. */
  sha256?: string;
  graceMs?: number;
  onRetry?: (m: MemoryState | undefined) => void;
}

/**
 * Stores a new run with `ingest(runId)` (which must write nothing outside that run's
 * keys and the run index), within a full Redis' grace. Returns ingest's result.
 */
export async function storeWithinMemory<T>(store: RunStore, o: StoreWithinMemoryOptions, ingest: (runId: string) => Promise<T>): Promise<T> {
  const runId = newRunId();
  const previous = o.sha256 ? await store.runOfFile(o.sha256) : undefined;
  return withOomGrace(() => ingest(runId), {
    client: store.redis,
    where: o.where,
    ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
    cleanUp: () => discardPartialRun(store, runId, { ...(o.sha256 ? { sha256: o.sha256 } : {}), ...(previous ? { previous } : {}) }),
    ...(o.onRetry ? { onRetry: o.onRetry } : {}),
    hint: 'Nothing was queued: the rows stored before Redis ran out of memory were removed again.',
  });
}
