/**
 * A full Redis (maxmemory-policy noeviction, a tiny maxmemory set on a redis-server
 * each test starts): `enqueue` exits non-zero saying memory, never "queued", and
 * leaves nothing stored, whether Redis fills up halfway through the file or refuses
 * the first transaction (EXECABORT); `run` (the CLI, against the simulator) stops with
 * one fatal error naming memory after the grace instead of looping on refused writes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enqueueCommand } from '../../src/commands/enqueue.js';
import { runCommand } from '../../src/commands/run.js';
import { createRedis } from '../../src/queue/connection.js';
import { RedisFullError } from '../../src/redis/errors.js';
import { parseInfo } from '../../src/redis/health.js';
import { startSimulator } from '../../src/simulator/index.js';
import { startCli } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';
import { buildScenario } from '../helpers/scenario.js';
import { useRedisServers } from '../helpers/redis-server.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('redis-oom');
const servers = useRedisServers();

async function info(url: string, section: string): Promise<Map<string, string>> {
  const c = createRedis(url);
  try {
    return parseInfo(String(await c.info(section)));
  } finally {
    c.disconnect();
  }
}

/** maxmemory = what is used now + `headroom` bytes. */
async function limitMemory(url: string, headroom: number): Promise<void> {
  const used = Number((await info(url, 'memory')).get('used_memory'));
  const c = createRedis(url);
  try {
    await c.config('SET', 'maxmemory', String(used + headroom));
  } finally {
    c.disconnect();
  }
}

describe('a full Redis', () => {
  it('enqueue says memory and exits non-zero, whether Redis fills up mid-file or refuses the first write; nothing stays queued', async () => {
    const redis = await servers.start();
    const file = join(ws.dir, 'big.csv');
    writeFileSync(file, ['userId,factorType,provider', ...Array.from({ length: 6000 }, (_, i) => `00u${String(i).padStart(17, '0')},push,OKTA`)].join('\n') + '\n');
    await limitMemory(redis.url, 300 * 1024);
    const flags = { redis: redis.url, prefix: ws.prefix, redisOomGraceMs: '1000' };
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;

    const midway = await enqueueCommand(file, flags, { env: {}, out: sink }).catch((e: unknown) => e);
    expect(midway).toBeInstanceOf(RedisFullError);
    const e1 = midway as RedisFullError;
    expect(e1.message).toMatch(new RegExp(`^Redis at ${redis.url} is out of memory \\([\\d.]+ [KM]B used of maxmemory [\\d.]+ [KM]B, maxmemory-policy noeviction\\) and has refused writes for \\d+ s`));
    expect(e1.message).toContain('CONFIG SET maxmemory');
    expect(e1.hint).toBe('Nothing was queued: the rows stored before Redis ran out of memory were removed again.');
    expect(out.join('')).not.toMatch(/queued/);
    const c = createRedis(redis.url);
    expect(await c.keys(`${ws.prefix}*`)).toEqual([]);

    // Full from the start: the run's first transaction is discarded (EXECABORT), which is named as memory too.
    await c.config('SET', 'maxmemory', '0');
    const fill = c.pipeline();
    for (let i = 0; i < 4000; i++) fill.set(`other-data:${i}`, 'x'.repeat(200));
    await fill.exec();
    await limitMemory(redis.url, -256 * 1024);
    const small = join(ws.dir, 'small.csv');
    writeFileSync(small, 'userId,factorType,provider\n00u00000000000000001,push,OKTA\n');
    const full = await enqueueCommand(small, flags, { env: {}, out: sink }).catch((e: unknown) => e);
    c.disconnect();
    expect(full).toBeInstanceOf(RedisFullError);
    expect((full as Error).message).toMatch(/is out of memory .*maxmemory-policy noeviction/);
    expect((full as Error).message).not.toMatch(/EXECABORT/);
    expect(out.join('')).not.toMatch(/queued/);
  });

  it('run stops with one fatal error naming memory when Redis fills up mid-run, instead of looping on refused writes', async () => {
    const redis = await servers.start();
    const scenario = buildScenario(ws.dir, { users: 300, seed: 3, scanMs: [20_000, 30_000] });
    const token = 'oom-token-0123456789abcdef';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 60_000, latencyMs: [20, 60], rateLimit: 1_000_000, token });
    const report = join(ws.dir, 'report.csv');
    const run = startCli(
      ['run', scenario.inputCsv, '--report', report, '--rate-limit', '1000000', '--users-rate-limit', '1000000', '--redis-oom-grace-ms', '1500', '--log-file', join(ws.dir, 'run.log')],
      { env: { OKTA_API_TOKEN: token, REDIS_URL: redis.url, BULK_ENROLL_PREFIX: ws.prefix, OKTA_ORG_URL: ws.sim.url } },
    );
    await run.waitForOutput(/run \d{8}-\d{6}-[a-z0-9]+ started/, 30_000);
    // Let enrollments start, then leave Redis no room at all.
    await new Promise((r) => setTimeout(r, 1000));
    await limitMemory(redis.url, -32 * 1024);
    const t0 = Date.now();
    const code = await run.exited;
    const stoppedAfterMs = Date.now() - t0;
    expect(code, run.stderr()).toBe(1);
    expect(stoppedAfterMs).toBeLessThan(20_000);
    const stderr = run.stderr();
    expect(stderr).toMatch(/refuses writes: out of memory \([\d.]+ [KM]B used of maxmemory [\d.]+ [KM]B\); stopping in 2 s unless memory is freed/);
    expect(stderr).toMatch(/Fatal: Redis at redis:\/\/127\.0\.0\.1:\d+ is out of memory \([\d.]+ [KM]B used of maxmemory [\d.]+ [KM]B, maxmemory-policy noeviction\) and has refused writes for \d+ s/);
    expect(stderr).toMatch(/Continue with: bulk-enroll resume/);
    expect(stderr).not.toMatch(/Unexpected error|EXECABORT/);
    // The partial report says what is known, rows still pending included; nothing claims the run finished.
    expect(existsSync(report)).toBe(true);
    expect(run.stdout()).not.toMatch(/Report: /);
    // Workers wait while Redis refuses writes: a few dozen refused commands, not thousands a second.
    const refused = Number(/count=(\d+)/.exec((await info(redis.url, 'errorstats')).get('errorstat_OOM') ?? '')?.[1] ?? 0);
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(1000);
  });

  it('a run whose Redis is full for a moment waits, then finishes with every outcome once memory is freed within the grace', async () => {
    const redis = await servers.start();
    const scenario = buildScenario(ws.dir, { users: 20, seed: 9, scanMs: [500, 1000] });
    const token = 'oom-back-token-0123456789';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2500, latencyMs: [10, 30], rateLimit: 1_000_000, token });
    const report = join(ws.dir, 'report.csv');
    const logFile = join(ws.dir, 'run.log');
    const done = runCommand(
      scenario.inputCsv,
      {
        report, orgUrl: ws.sim.url, redis: redis.url, prefix: ws.prefix, rateLimit: '1000000', usersRateLimit: '1000000', pollInitialMs: '100',
        redisOomGraceMs: '8000', lockDurationMs: '2000', stalledIntervalMs: '1000', reconcileIntervalMs: '1000', logFile, logLevel: 'info',
      },
      { env: { OKTA_API_TOKEN: token }, out: quiet },
    );
    const c = createRedis(redis.url);
    const until = async (what: string, ok: () => Promise<boolean>) => {
      for (let i = 0; !(await ok()); i++) {
        if (i > 300) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Squeeze Redis once rows are being worked on, until it has refused a write; then free it.
    await until('rows in flight', async () => (await c.keys(`${ws.prefix}:be:run:*:inflight`)).length > 0);
    await limitMemory(redis.url, -128 * 1024);
    await until('a refused write', async () => Boolean((await info(redis.url, 'errorstats')).get('errorstat_OOM')));
    await new Promise((r) => setTimeout(r, 1000));
    await c.config('SET', 'maxmemory', '0');
    c.disconnect();
    await done;
    const rows = readReportFile(report);
    expect(rows.map((r) => r.outcome)).toEqual(scenario.expected.map((e) => e.outcome));
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/refuses writes: out of memory/);
    expect(log).toMatch(/accepts writes again/);
  });
});
