/**
 * Memory: `bulk-enroll validate` and `bulk-enroll enqueue` (spawned CLI processes) on
 * generated files of 1,000,000 and 100,000 rows (and a 1,000-row file for the
 * process's size at rest): peak RSS of each process, Redis used_memory per stored row
 * (INFO memory before and after enqueue), and per in-flight row (the feeder hands
 * --max-in-flight rows of the enqueued run to the enroll queue; no worker takes them).
 */
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { generateUsersCsv } from '../../src/csv/generate.js';
import { loadProcessConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { startRuntime } from '../../src/queue/runtime.js';
import { feedRun } from '../../src/queue/feeder.js';
import { Scope } from '../lib/cleanup.js';
import { runCliMeasured } from '../lib/cli.js';
import { privateRedis, tempDir, usedMemory } from '../lib/setup.js';
import { fmt } from '../lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from '../lib/types.js';

const MB = 1024 * 1024;
const IN_FLIGHT = 5000;

export function memoryCases(ctx: BenchContext): Case[] {
  const sizes: [number, number, number] = ctx.quick ? [1000, 10_000, 100_000] : [1000, 100_000, 1_000_000];
  return [
    {
      id: 'memory',
      scenario: 'memory',
      run: () => runMemory(sizes),
      rows: (m: Measurement | undefined): TableRow[] => [validateRow(m, sizes), enqueueRow(m, sizes)],
    },
  ];
}

function validateRow(m: Measurement | undefined, [rest, mid, big]: [number, number, number]): TableRow {
  const target = '≤ 150 MB peak RSS at 1,000,000 rows, flat with file size';
  if (!m) return { scenario: 'Memory: validate', result: 'failed (see above)', target, verdict: '—', note: '' };
  const x = m.metrics;
  const flat = x[`validateRss${big}`]! - x[`validateRss${mid}`]! <= 20 * MB;
  return {
    scenario: 'Memory: validate',
    result: `peak RSS ${mb(x[`validateRss${big}`]!)} at ${fmt(big)} rows, ${mb(x[`validateRss${mid}`]!)} at ${fmt(mid)}, ${mb(x[`validateRss${rest}`]!)} at ${fmt(rest)}`,
    target,
    verdict: x[`validateRss${big}`]! <= 150 * MB && flat ? 'met' : 'not met',
    note:
      `Spawned \`node dist/src/cli.js validate <csv> --json\` (the built CLI); peak RSS = getrusage maxrss at exit. ` +
      `File of ${fmt(big)} rows: ${mb(x.bytesBig!)}, checked in ${fmt(x[`validateSec${big}`]!, 1)} s. "Flat": ≤ 20 MB more at ${fmt(big)} rows than at ${fmt(mid)}.`,
  };
}

function enqueueRow(m: Measurement | undefined, [rest, mid, big]: [number, number, number]): TableRow {
  const target = '≤ 150 MB peak RSS, flat; ≤ 1 KB Redis per in-flight row';
  if (!m) return { scenario: 'Memory: enqueue', result: 'failed (see above)', target, verdict: '—', note: '' };
  const x = m.metrics;
  const flat = x[`enqueueRss${big}`]! - x[`enqueueRss${mid}`]! <= 20 * MB;
  return {
    scenario: 'Memory: enqueue',
    result:
      `peak RSS ${mb(x[`enqueueRss${big}`]!)} at ${fmt(big)} rows, ${mb(x[`enqueueRss${mid}`]!)} at ${fmt(mid)}, ${mb(x[`enqueueRss${rest}`]!)} at ${fmt(rest)}; ` +
      `Redis ${fmt(x.bytesPerInflight!)} B per in-flight row, ${fmt(x[`bytesPerStored${big}`]!)} B per stored row`,
    target,
    verdict: x[`enqueueRss${big}`]! <= 150 * MB && flat && x.bytesPerInflight! <= 1024 ? 'met' : 'not met',
    note:
      `Spawned \`bulk-enroll enqueue\` into a fresh Redis per size (${fmt(x[`enqueueSec${big}`]!, 1)} s for ${fmt(big)} rows). ` +
      `Stored row = (used_memory after − before) ÷ rows: every row's input record is kept in Redis until the run ends ` +
      `(${mb(x[`redisBytes${big}`]!)} for ${fmt(big)} rows). In-flight row = used_memory growth ÷ ${fmt(IN_FLIGHT)} rows fed to the enroll queue ` +
      `(BullMQ job hash + wait-list entry + in-flight set + claim); a row being polled also holds a progress record and a delayed poll job.`,
  };
}

function mb(bytes: number): string {
  return `${fmt(bytes / MB, 0)} MB`;
}

async function runMemory(sizes: [number, number, number]): Promise<Measurement> {
  const scope = new Scope('memory');
  const metrics: Record<string, number> = {};
  try {
    const dir = tempDir(scope, 'memory');
    for (const n of sizes) {
      const csv = join(dir, `users-${n}.csv`);
      await generateUsersCsv(csv, n, { seed: 3 });
      if (n === sizes[sizes.length - 1]) metrics.bytesBig = statSync(csv).size;
      const timeoutMs = Math.max(60_000, n / 5);

      const v = await runCliMeasured(scope, ['validate', csv, '--json'], { dir, timeoutMs });
      if (v.code !== 0) throw new Error(`validate ${n} rows: expected exit 0, got ${v.code}: ${v.stderr.slice(-500)}`);
      metrics[`validateRss${n}`] = v.peakRss;
      metrics[`validateSec${n}`] = v.ms / 1000;

      const redisScope = new Scope(`memory redis ${n}`);
      try {
        const redis = await privateRedis(redisScope);
        const before = await usedMemory(redis.url);
        const e = await runCliMeasured(redisScope, ['enqueue', csv, '--redis', redis.url, '--prefix', 'bench'], { dir, timeoutMs });
        if (e.code !== 0) throw new Error(`enqueue ${n} rows: expected exit 0, got ${e.code}: ${e.stderr.slice(-500)}`);
        const after = await usedMemory(redis.url);
        metrics[`enqueueRss${n}`] = e.peakRss;
        metrics[`enqueueSec${n}`] = e.ms / 1000;
        metrics[`redisBytes${n}`] = after - before;
        metrics[`bytesPerStored${n}`] = (after - before) / n;
        if (n === sizes[1]) {
          const runId = e.stdout.trim().split('\n').pop()!.trim();
          metrics.bytesPerInflight = await inflightBytes(redisScope, redis.url, runId, Math.min(IN_FLIGHT, n));
        }
      } finally {
        await redisScope.close();
      }
    }
    return { metrics, info: {} };
  } finally {
    await scope.close();
  }
}

/** used_memory growth per row when the feeder puts `rows` rows of the stored run in flight. */
async function inflightBytes(scope: Scope, redisUrl: string, runId: string, rows: number): Promise<number> {
  const config = loadProcessConfig({ redis: redisUrl, prefix: 'bench' }, { env: {}, needOkta: false });
  const runtime = await startRuntime({ config, logger: silentLogger(), workers: false });
  scope.add('runtime', runtime, (r) => r.close());
  const before = await usedMemory(redisUrl);
  const fed = await feedRun(runtime.store, runtime.enrollQueue, runId, rows);
  const after = await usedMemory(redisUrl);
  if (fed.fed !== rows) throw new Error(`feeder: expected ${rows} rows fed into run ${runId}, got ${fed.fed} (locked: ${fed.locked})`);
  return (after - before) / rows;
}
