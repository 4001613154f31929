/**
 * Shared pieces of the operator-experience tests: a small run stored in Redis with
 * known outcomes (one of them carrying hostile text), and a writable that collects
 * what a command prints.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { DEFAULT_RUN_SETTINGS } from '../../src/config.js';
import { ingestCsv } from '../../src/runs/ingest.js';
import { RunStore } from '../../src/runs/store.js';

export const HOSTILE = '<script>window.__pwned=1</script>';
export const HOSTILE_FILE = '<img src=x onerror=window.__pwned=1>.csv';

export interface SeededRun {
  runId: string;
  file: string;
  /** Expected counts. */
  counts: { activated: number; expired: number; failed: number; pending: number; total: number };
}

/**
 * Five rows: 1 activated, 2 failed with a hostile deviceName and errorSummary,
 * 3 expired, 4 invalid (failed at ingest), 5 still pending.
 */
export async function seedRun(redis: Redis, prefix: string, dir: string): Promise<SeededRun> {
  const file = join(dir, HOSTILE_FILE);
  writeFileSync(
    file,
    [
      'userId,login,factorType,provider,deviceName',
      '00u1aaaaaaaaaaaaaaa1,,push,OKTA,Phone 1',
      `00u1aaaaaaaaaaaaaaa2,,push,OKTA,"${HOSTILE}"`,
      '00u1aaaaaaaaaaaaaaa3,,push,OKTA,Phone 3',
      ',,push,OKTA,nobody',
      '00u1aaaaaaaaaaaaaaa5,,push,OKTA,Phone 5',
      '',
    ].join('\n'),
  );
  const store = new RunStore(redis, prefix);
  const { runId } = await ingestCsv(store, file, DEFAULT_RUN_SETTINGS);
  const fin = new Date().toISOString();
  await store.finalize(runId, 1, { outcome: 'activated', userId: '00u1aaaaaaaaaaaaaaa1', factorId: 'opf1', status: 'ACTIVE', attempts: 1, finishedAt: fin, delivery: 'sent' });
  await store.finalize(runId, 2, { outcome: 'failed', errorCode: 'E0000007', errorSummary: `Not found: ${HOSTILE}`, attempts: 0, finishedAt: fin, delivery: 'none' });
  await store.finalize(runId, 3, { outcome: 'expired', userId: '00u1aaaaaaaaaaaaaaa3', factorId: 'opf3', status: 'EXPIRED', attempts: 1, finishedAt: fin, delivery: 'sent' });
  return { runId, file, counts: { activated: 1, expired: 1, failed: 2, pending: 1, total: 5 } };
}

export function collector(): { stream: NodeJS.WritableStream; text(): string } {
  const chunks: string[] = [];
  return { stream: { write: (s: string) => (chunks.push(String(s)), true) } as unknown as NodeJS.WritableStream, text: () => chunks.join('') };
}
