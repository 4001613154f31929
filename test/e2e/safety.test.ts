/**
 * The three promises under stress, with the real simulator over HTTP and a real Redis:
 * faults (5xx and answers lost after Okta processed the request) still give exact
 * outcomes and no duplicate factor; re-running a file enrolls nothing new; bad files
 * stop before anything is enqueued; the API token appears nowhere it could be read.
 */
import { createServer, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { InputFileError } from '../../src/errors.js';
import { buildScenario } from '../helpers/scenario.js';
import { redisUrl } from '../helpers/redis.js';
import { runCli } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('safety');

const sink = () => {
  const chunks: string[] = [];
  return { stream: { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream, text: () => chunks.join('') };
};

function baseFlags(report: string, extra: Record<string, string> = {}) {
  return {
    report,
    orgUrl: ws.sim!.url,
    redis: redisUrl(),
    prefix: ws.prefix,
    rateLimit: '100000',
    usersRateLimit: '100000',
    pollInitialMs: '100',
    retryBaseMs: '20',
    logFile: join(ws.dir, 'run.log'),
    logLevel: 'debug',
    ...extra,
  };
}

describe('faults', () => {
  it('5xx and answers lost after processing: exact outcomes, no duplicate factor', async () => {
    const scenario = buildScenario(ws.dir, { users: 200, seed: 3 });
    const token = 'fault-token-0123456789';
    ws.sim = await startSimulator({
      usersCsv: scenario.directoryCsv,
      activationTtlMs: 2000,
      onDuplicate: 'allow',
      errorRate: 0.05,
      resetRate: 0.05,
      seed: 9,
      rateLimit: 100_000,
      token,
    });
    const report = join(ws.dir, 'report.csv');
    await runCommand(scenario.inputCsv, baseFlags(report, { attempts: '12' }), { env: { OKTA_API_TOKEN: token }, out: sink().stream });
    const rows = readReportFile(report);
    const bad = scenario.expected.filter((e, i) => rows[i]?.outcome !== e.outcome || (e.errorCode && rows[i]?.errorCode !== e.errorCode));
    expect(bad.map((b) => ({ ...b, got: rows[b.row - 1] }))).toEqual([]);
    const stats = ws.sim.stats();
    expect(stats.connectionResets).toBeGreaterThan(0);
    expect(stats.injectedErrors).toBeGreaterThan(0);
    expect(stats.duplicateEnrollments).toBe(0);
    // some rows needed more than one try, and the report says so
    expect(rows.some((r) => Number(r.attempts) > 1 || (r.note ?? '').includes('adopted'))).toBe(true);
  }, 120_000);
});

describe('re-running a file', () => {
  it('enrolls nothing new the second time and reports the first run\'s factors', async () => {
    const scenario = buildScenario(ws.dir, { users: 60, seed: 4 });
    const token = 'rerun-token-0123456789';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, onDuplicate: 'allow', rateLimit: 100_000, token });
    const first = join(ws.dir, 'first.csv');
    await runCommand(scenario.inputCsv, baseFlags(first), { env: { OKTA_API_TOKEN: token }, out: sink().stream });
    const enrollsAfterFirst = ws.sim.stats().enrollCalls;
    const second = join(ws.dir, 'second.csv');
    await runCommand(scenario.inputCsv, baseFlags(second), { env: { OKTA_API_TOKEN: token }, out: sink().stream });
    expect(ws.sim.stats().enrollCalls).toBe(enrollsAfterFirst);
    expect(ws.sim.stats().duplicateEnrollments).toBe(0);
    const a = readReportFile(first);
    const b = readReportFile(second);
    for (let i = 0; i < a.length; i++) {
      if (a[i]!.outcome === 'activated') {
        expect(b[i]!.outcome).toBe('activated');
        expect(b[i]!.factorId).toBe(a[i]!.factorId);
        expect(b[i]!.note).toContain('already active');
      }
    }
  }, 120_000);
});

describe('bad input files', () => {
  const expected = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'bad', 'expected.json'), 'utf8')) as Record<string, { error?: { message: string } }>;
  const fileLevel = Object.entries(expected).filter(([, v]) => v.error);

  it.each(fileLevel.map(([f, v]) => [f, v.error!.message]))('run %s → a clear message, nothing enqueued', async (file, message) => {
    const err = await runCommand(join('test', 'fixtures', 'bad', file), { report: join(ws.dir, 'r.csv'), redis: redisUrl(), prefix: ws.prefix }, {
      env: { OKTA_API_TOKEN: 'x-token-123456', OKTA_ORG_URL: 'http://127.0.0.1:9' },
      out: quiet,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputFileError);
    expect((err as Error).message).toContain(message);
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.keys(`${ws.prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('through the CLI: exit 2, the message and "Nothing was enqueued", no stack trace', async () => {
    const [file, v] = fileLevel[0]!;
    const r = await runCli(['run', join('test', 'fixtures', 'bad', file), '--report', join(ws.dir, 'r.csv')], {
      env: { OKTA_API_TOKEN: 'x-token-123456', OKTA_ORG_URL: 'http://127.0.0.1:9', REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: ws.prefix },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(v.error!.message);
    expect(r.stderr).toContain('Nothing was enqueued');
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
  }, 60_000);

  it('lists every configuration problem at once', async () => {
    const r = await runCli(['run', 'samples/users.csv', '--report', join(ws.dir, 'r.csv'), '--rate-limit', 'fast', '--max-concurrent', '500'], {
      env: { OKTA_API_TOKEN: '', OKTA_ORG_URL: '', REDIS_URL: redisUrl() },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--org-url / OKTA_ORG_URL: required');
    expect(r.stderr).toContain('OKTA_API_TOKEN or --token-file: required');
    expect(r.stderr).toContain('--rate-limit / BULK_ENROLL_RATE_LIMIT: expected a whole number from 1, got `fast`');
    expect(r.stderr).toContain('--max-concurrent / BULK_ENROLL_MAX_CONCURRENT: expected a whole number from 1 to 75, got `500`');
  }, 60_000);
});

describe('token safety', () => {
  let foreign: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (foreign ? foreign.close(() => r()) : r()));
    foreign = undefined;
  });

  it('the token appears in no log, Redis key or value, report or output, and never reaches a foreign host', async () => {
    const token = `SECRETTOKEN${Date.now()}x0Z9`;
    const seen: string[] = [];
    foreign = createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? ''));
      res.end('{}');
    });
    await new Promise<void>((r) => foreign!.listen(0, '127.0.0.1', () => r()));
    const foreignPort = (foreign.address() as { port: number }).port;
    const scenario = buildScenario(ws.dir, { users: 40, seed: 8 });
    ws.sim = await startSimulator({
      dialect: 'seed',
      usersCsv: scenario.directoryCsv,
      activationTtlMs: 1500,
      rateLimit: 100_000,
      token,
      linkBase: `http://127.0.0.1:${foreignPort}`,
    });
    const env = { OKTA_API_TOKEN: token, OKTA_ORG_URL: ws.sim.url, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: ws.prefix };
    const report = join(ws.dir, 'report.csv');
    const logFile = join(ws.dir, 'logs', 'run.log');
    const r = await runCli(['run', scenario.inputCsv, '--report', report, '--log-file', logFile, '--log-level', 'debug', '--rate-limit', '100000', '--users-rate-limit', '100000', '--poll-initial-ms', '100'], { env });
    expect(r.code, r.stderr).toBe(0);
    // also a run that fails on the token (401 paths print errors)
    const bad = await runCli(['run', scenario.inputCsv, '--report', join(ws.dir, 'bad.csv'), '--log-file', logFile], { env: { ...env, OKTA_API_TOKEN: `${token}WRONG` } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Okta rejected the credentials');

    const haystacks: Array<[string, string]> = [
      ['stdout', r.stdout + bad.stdout],
      ['stderr', r.stderr + bad.stderr],
      ['report', readFileSync(report, 'utf8')],
    ];
    for (const f of readdirSync(join(ws.dir, 'logs'))) haystacks.push([`log ${f}`, readFileSync(join(ws.dir, 'logs', f), 'utf8')]);
    for (const f of readdirSync(ws.dir).filter((x) => x.endsWith('.json') || x.endsWith('.html'))) haystacks.push([f, readFileSync(join(ws.dir, f), 'utf8')]);
    const redis = new Redis(redisUrl());
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${ws.prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          const dump = await redis.dumpBuffer(key);
          haystacks.push([`redis key ${key}`, key]);
          if (dump) haystacks.push([`redis ${type} ${key}`, dump.toString('latin1')]);
          if (type === 'hash') haystacks.push([`redis hash ${key}`, JSON.stringify(await redis.hgetall(key))]);
          if (type === 'string') haystacks.push([`redis string ${key}`, String(await redis.get(key))]);
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    expect(haystacks.length).toBeGreaterThan(5);
    const leaks = haystacks.filter(([, text]) => text.includes(token)).map(([where]) => where);
    expect(leaks).toEqual([]);
    expect(seen.filter((a) => a.includes(token))).toEqual([]);
    expect(seen).toEqual([]); // the foreign host was never contacted at all
  }, 120_000);
});
