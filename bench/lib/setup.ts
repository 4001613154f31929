/** What every scenario needs: a temporary directory, a private Redis, generated users. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-redis.js';
import { generateUsersCsv, type GenerateOptions, type GenerateResult } from '../../src/csv/generate.js';
import type { Scope } from './cleanup.js';

export function tempDir(scope: Scope, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bulk-enroll-bench-${name}-`));
  return scope.add('temporary directory', dir, (d) => rmSync(d, { recursive: true, force: true }));
}

export async function privateRedis(scope: Scope): Promise<LocalRedis> {
  const redis = await startLocalRedis();
  return scope.add('redis-server', redis, (r) => r.stop());
}

/** Redis INFO memory's used_memory, bytes. */
export async function usedMemory(url: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = await client.info('memory');
    const m = /^used_memory:(\d+)/m.exec(info);
    if (!m) throw new Error(`redis INFO memory: expected a used_memory line, got ${JSON.stringify(info.slice(0, 200))}`);
    return Number(m[1]);
  } finally {
    client.disconnect();
  }
}

/** Redis INFO commandstats: calls per command name (evalsha = a Lua script, BullMQ's and the runner's). */
export async function commandStats(url: string): Promise<Map<string, number>> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const out = new Map<string, number>();
    for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
    return out;
  } finally {
    client.disconnect();
  }
}

/** Commands per unit between two commandStats snapshots: the total and the busiest few. */
export function commandsPer(before: Map<string, number>, after: Map<string, number>, units: number): { total: number; top: string } {
  const diff: Array<[string, number]> = [];
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0);
    if (d > 0) diff.push([cmd, d]);
  }
  diff.sort((a, b) => b[1] - a[1]);
  const total = diff.reduce((s, [, d]) => s + d, 0) / units;
  const top = diff
    .slice(0, 6)
    .map(([cmd, d]) => `${cmd} ${(d / units).toFixed(1)}`)
    .join(', ');
  return { total, top };
}

export async function redisVersion(url: string): Promise<string> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return /^redis_version:(\S+)/m.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
  }
}

export interface Population {
  input: string;
  directory: string;
  expectations: string;
  generated: GenerateResult;
}

/** Users named by id only, every one of them in the directory (no unknown, invalid or sms rows). */
export async function population(dir: string, users: number, opts: Pick<GenerateOptions, 'neverRate' | 'scanDelayMs'> & { seed?: number }): Promise<Population> {
  const input = join(dir, 'input.csv');
  const directory = join(dir, 'directory.csv');
  const expectations = join(dir, 'expected.csv');
  const generated = await generateUsersCsv(input, users, {
    seed: opts.seed ?? 7,
    directoryFile: directory,
    expectationsFile: expectations,
    byLoginRate: 0,
    smsRate: 0,
    unknownRate: 0,
    neverRate: opts.neverRate ?? 0,
    scanDelayMs: opts.scanDelayMs ?? [50, 50],
    groups: [],
  });
  return { input, directory, expectations, generated };
}
