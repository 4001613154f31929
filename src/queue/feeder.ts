/**
 * The feeder hands a run's stored rows to the enroll queue in row order, keeping at
 * most `maxInFlight` rows in flight (fed, not finished): backpressure, so a
 * million-row run never puts a million jobs into Redis at once. One feeder per run at
 * a time (a lock with a TTL); any worker process may take that role.
 *
 * Duplicate detection depends on the order: a row given by userId claims
 * (user, factor type) here, in row order; a row given by login is registered as
 * unresolved, and later rows wait for it before they enroll (the row lifecycle's claim step);
 * a second row naming the same login and factor type is a duplicate at once, without a lookup.
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { jobIds } from '../runs/keys.js';
import { decodeInput } from '../rows/codec.js';
import { failedOutcome } from '../rows/outcome.js';
import type { RunStore } from '../runs/store.js';

const LOCK_TTL_MS = 15_000;
const BATCH = 1000;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface FeedResult {
  fed: number;
  locked: boolean;
}

export async function feedRun(store: RunStore, enrollQueue: Queue, runId: string, maxInFlight: number, now = Date.now()): Promise<FeedResult> {
  const { redis } = store;
  const k = store.keys(runId);
  const token = randomBytes(8).toString('hex');
  const got = await redis.set(k.feederLock, token, 'PX', LOCK_TTL_MS, 'NX');
  if (got !== 'OK') return { fed: 0, locked: false };
  let fedNow = 0;
  try {
    for (;;) {
      const meta = await store.getMeta(runId);
      if (!meta || meta.state !== 'active') break;
      const room = maxInFlight - (await store.inflightCount(runId));
      const available = meta.stored - meta.fed;
      const n = Math.min(room, available, BATCH);
      if (n <= 0) break;
      const rows = Array.from({ length: n }, (_, i) => meta.fed + 1 + i);
      const fields = rows.map(String);
      const [inputs, outcomes] = await Promise.all([redis.hmget(k.input, ...fields), redis.hmget(k.outcomes, ...fields)]);

      // Claims first, in row order, in one round trip: by user id, or by login for rows given by
      // login (which also registers them as unresolved: later rows wait for their lookup).
      const pipe = redis.pipeline();
      const fedRows: Array<{ row: number; userId?: string }> = [];
      rows.forEach((row, i) => {
        const packed = inputs[i];
        if (!packed || outcomes[i]) return;
        const input = decodeInput(row, packed);
        (pipe as unknown as { beFeedClaim: (...a: string[]) => void }).beFeedClaim(...store.feedClaimArgs(runId, input));
        fedRows.push({ row, ...(input.userId ? { userId: input.userId } : {}) });
      });
      const results = fedRows.length ? ((await pipe.exec()) ?? []) : [];

      const jobs: Array<{ name: string; data: { runId: string; row: number }; opts: { jobId: string; attempts: number } }> = [];
      const inflight: string[] = [];
      const duplicates: Array<{ row: number; owner: number; userId?: string }> = [];
      fedRows.forEach(({ row, userId }, i) => {
        const res = results[i];
        if (res?.[0]) throw res[0];
        const owner = Number(res?.[1]);
        if (owner !== row) {
          duplicates.push({ row, owner, ...(userId ? { userId } : {}) });
          return;
        }
        inflight.push(String(row));
        jobs.push({ name: 'enroll', data: { runId, row }, opts: { jobId: jobIds.enroll(runId, row), attempts: meta.settings.attempts } });
      });
      if (inflight.length) await redis.sadd(k.inflight, ...inflight);
      for (const d of duplicates) {
        await store.finalize(runId, d.row, failedOutcome('DUPLICATE_ROW', `same user and factorType as row ${d.owner}`, now, d.userId));
      }
      if (jobs.length) await enrollQueue.addBulk(jobs);
      await redis.hset(k.meta, 'fed', String(meta.fed + n));
      fedNow += n;
      // keep the lock while we work
      await redis.pexpire(k.feederLock, LOCK_TTL_MS);
    }
  } finally {
    await redis.eval(RELEASE, 1, k.feederLock, token).catch(() => undefined);
  }
  return { fed: fedNow, locked: true };
}
