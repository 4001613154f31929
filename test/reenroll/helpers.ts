/**
 * Shared pieces of the re-enrollment tests (real simulator over HTTP, real Redis):
 * a directory whose users scan per activation attempt as scripted, a first `run`,
 * and small readers.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { runCommand } from '../../src/commands/run.js';
import { redisUrl } from '../helpers/redis.js';
import { readReportFile, type ReportRecord } from '../helpers/report.js';

export const TOKEN = 'reenroll-token-0123456789';

export interface DirUser {
  id: string;
  login: string;
  /** The simulator's `activation` column: one entry per attempt, `;`-separated. */
  activation: string;
}

export function userId(n: number): string {
  return `00ure${String(n).padStart(15, '0')}`;
}

export function writeDirectory(dir: string, users: DirUser[]): string {
  const file = join(dir, 'directory.csv');
  writeFileSync(file, `id,login,activation\n${users.map((u) => `${u.id},${u.login},${u.activation}`).join('\n')}\n`);
  return file;
}

export function writeInput(dir: string, lines: string[], name = 'input.csv'): string {
  const file = join(dir, name);
  writeFileSync(file, `userId,login,factorType,provider\n${lines.join('\n')}\n`);
  return file;
}

/** Flags every command of these tests shares: the simulator, the test Redis, fast polls. */
export function commonFlags(simUrl: string, prefix: string, dir: string): Record<string, string> {
  return {
    orgUrl: simUrl,
    redis: redisUrl(),
    prefix,
    rateLimit: '100000',
    usersRateLimit: '100000',
    pollInitialMs: '100',
    pollMaxMs: '200',
    logFile: join(dir, 'bulk-enroll.log'),
    logLevel: 'warn',
    reconcileIntervalMs: '1000',
  };
}

export const quiet = { write: () => true } as unknown as NodeJS.WritableStream;

export function sink(): { out: NodeJS.WritableStream; text: () => string } {
  const chunks: string[] = [];
  return { out: { write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WritableStream, text: () => chunks.join('') };
}

export async function firstRun(input: string, report: string, flags: Record<string, string>): Promise<ReportRecord[]> {
  await runCommand(input, { ...flags, report }, { env: { OKTA_API_TOKEN: TOKEN }, out: quiet });
  return readReportFile(report);
}

export async function ledgerCount(prefix: string, uid: string, factorType = 'push'): Promise<number> {
  const r = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  try {
    return Number((await r.hget(`${prefix}:be:attempts:${uid}|${factorType}`, 'count')) ?? 0);
  } finally {
    r.disconnect();
  }
}

export function byUser(rows: ReportRecord[]): Map<string, ReportRecord> {
  return new Map(rows.map((r) => [r.userId ?? '', r]));
}
