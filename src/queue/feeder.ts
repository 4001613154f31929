/**
 * The feeder hands a run's stored rows to the enroll queue in row order, keeping at
 * most `maxInFlight` rows in flight (fed, not finished): backpressure, so a
 * million-row run never puts a million jobs into Redis at once. One feeder per run at
 * a time (a lock with a TTL); any worker process may take that role.
 *
 * Duplicate detection depends on the order: a row given by userId claims
 * (user, factor type) here, in row order; a row given by login is registered as
 * unresolved, and later rows wait for it before they enroll (see jobs/enroll.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { jobIds } from '../runs/keys.js';
import { unpackInput } from '../runs/records.js';
import type { RunStore } from '../runs/store.js';
import { claimKey } from '../../jobs/enroll.js';

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

      // Claims and unresolved logins first, in row order, in one round trip.
      const pipe = redis.pipeline();
      const claimed: Array<{ row: number; idx: number } | null> = [];
      let idx = 0;
      rows.forEach((row, i) => {
        const packed = inputs[i];
        if (!packed || outcomes[i]) {
          claimed.push(null);
          return;
        }
        const input = unpackInput(row, packed);
        if (input.userId) {
          (pipe as unknown as { beClaimMin: (...a: string[]) => void }).beClaimMin(k.claims, k.pending, claimKey(input.userId, input.factorType), String(row));
          claimed.push({ row, idx: idx++ });
        } else {
          pipe.zadd(k.pending, row, String(row));
          claimed.push({ row, idx: idx++ });
        }
      });
      const results = (await pipe.exec()) ?? [];

      const jobs: Array<{ name: string; data: { runId: string; row: number }; opts: { jobId: string; attempts: number } }> = [];
      const inflight: string[] = [];
      const duplicates: Array<{ row: number; owner: number }> = [];
      claimed.forEach((c, i) => {
        if (!c) return;
        const res = results[c.idx];
        if (res?.[0]) throw res[0];
        const packed = inputs[i]!;
        const input = unpackInput(c.row, packed);
        if (input.userId) {
          const owner = Number(res?.[1]);
          if (owner !== c.row) {
            duplicates.push({ row: c.row, owner });
            return;
          }
        }
        inflight.push(String(c.row));
        jobs.push({ name: 'enroll', data: { runId, row: c.row }, opts: { jobId: jobIds.enroll(runId, c.row), attempts: meta.settings.attempts } });
      });
      if (inflight.length) await redis.sadd(k.inflight, ...inflight);
      for (const d of duplicates) {
        await store.finalize(runId, d.row, {
          o: 'failed',
          ec: 'DUPLICATE_ROW',
          es: `same user and factorType as row ${d.owner}`,
          fin: new Date(now).toISOString(),
        });
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
