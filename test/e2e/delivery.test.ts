/**
 * Activation delivery and activation secrets, against the real simulator over HTTP
 * and a real Redis: users who scan only after Okta sent them the activation link end
 * `activated` with --deliver email and `expired` with --deliver none; SMS pacing
 * (one per phone per interval, E0000109) is waited out; no QR code, barcode or
 * activation link lands in the report, the logs or Redis, only in the owner-only
 * --export-activation file.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { redisUrl } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { useWorkspace, quiet } from '../helpers/workspace.js';

const ws = useWorkspace('delivery');

function directory(n: number, activation: string, phone?: (i: number) => string) {
  const lines = [`id,login,activation,phone`];
  const input = ['userId,factorType,phoneNumber'];
  for (let i = 0; i < n; i++) {
    const id = `00udeliv${String(i).padStart(12, '0')}`;
    lines.push(`${id},d${i}@example.com,${activation},${phone ? phone(i) : ''}`);
    input.push(`${id},push,${phone ? phone(i) : ''}`);
  }
  writeFileSync(join(ws.dir, 'dir.csv'), `${lines.join('\n')}\n`);
  writeFileSync(join(ws.dir, 'in.csv'), `${input.join('\n')}\n`);
}

function flags(extra: Record<string, unknown>) {
  return {
    report: join(ws.dir, 'report.csv'),
    orgUrl: ws.sim!.url,
    redis: redisUrl(),
    prefix: ws.prefix,
    rateLimit: '100000',
    usersRateLimit: '100000',
    pollInitialMs: '100',
    logFile: join(ws.dir, 'logs', 'run.log'),
    logLevel: 'debug',
    ...extra,
  };
}

describe('activation delivery', () => {
  it('--deliver email: users who scan only after the email end activated', async () => {
    directory(30, 'after-delivery:300');
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 2000, rateLimit: 100_000, token: 'deliver-token-123456' });
    await runCommand(join(ws.dir, 'in.csv'), flags({ deliver: 'email' }), { env: { OKTA_API_TOKEN: 'deliver-token-123456' }, out: quiet });
    const rows = readReportFile(join(ws.dir, 'report.csv'));
    expect(rows.map((r) => r.outcome)).toEqual(Array(30).fill('activated'));
    expect(rows.map((r) => r.delivery)).toEqual(Array(30).fill('sent'));
    expect(ws.sim.deliveries().filter((d) => d.channel === 'email')).toHaveLength(30);
  });

  it('--deliver none: the same users never see a link and expire', async () => {
    directory(10, 'after-delivery:300');
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 1200, rateLimit: 100_000, token: 'deliver-token-123456' });
    await runCommand(join(ws.dir, 'in.csv'), flags({ deliver: 'none' }), { env: { OKTA_API_TOKEN: 'deliver-token-123456' }, out: quiet });
    const rows = readReportFile(join(ws.dir, 'report.csv'));
    expect(rows.map((r) => r.outcome)).toEqual(Array(10).fill('expired'));
    expect(rows.map((r) => r.delivery)).toEqual(Array(10).fill('none'));
    expect(ws.sim.deliveries()).toHaveLength(0);
  });

  it('--deliver sms --sms-to-csv-phone waits out the one-SMS-per-phone limit (E0000109)', async () => {
    // three users share one phone: the second and third SMS must wait for the interval
    directory(3, 'after-delivery:100', () => '+14155550123');
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 5000, smsIntervalMs: 700, rateLimit: 100_000, token: 'deliver-token-123456' });
    await runCommand(join(ws.dir, 'in.csv'), flags({ deliver: 'sms', smsToCsvPhone: true }), { env: { OKTA_API_TOKEN: 'deliver-token-123456' }, out: quiet });
    const rows = readReportFile(join(ws.dir, 'report.csv'));
    expect(rows.map((r) => r.delivery)).toEqual(['sent', 'sent', 'sent']);
    expect(rows.map((r) => r.outcome)).toEqual(['activated', 'activated', 'activated']);
    const sms = ws.sim.deliveries().filter((d) => d.channel === 'sms').sort((a, b) => a.atMs - b.atMs);
    expect(sms.map((d) => d.to)).toEqual(['+14155550123', '+14155550123', '+14155550123']);
    for (let i = 1; i < sms.length; i++) expect(sms[i]!.atMs - sms[i - 1]!.atMs).toBeGreaterThanOrEqual(700);
    expect(ws.sim.stats().rateLimitedBy.resource).toBeGreaterThan(0);
  }, 60_000);
});

describe('activation secrets', () => {
  it('never land in the report, logs or Redis; --export-activation gets them in an owner-only file', async () => {
    directory(15, '200');
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 2000, rateLimit: 100_000, token: 'deliver-token-123456' });
    const exportFile = join(ws.dir, 'activation-export.csv');
    await runCommand(join(ws.dir, 'in.csv'), flags({ deliver: 'email', exportActivation: exportFile }), { env: { OKTA_API_TOKEN: 'deliver-token-123456' }, out: quiet });
    const exported = readFileSync(exportFile, 'utf8');
    expect(statSync(exportFile).mode & 0o077).toBe(0);
    const qr = [...exported.matchAll(/https?:\/\/[^,\s]*\/qr\/[^,\s]*/g)].map((m) => m[0]);
    expect(qr.length).toBe(15);
    const secrets = [...qr, ...[...exported.matchAll(/https?:\/\/[^,\s]*\/lifecycle\/activate\/(?:email|sms)/g)].map((m) => m[0])];
    expect(secrets.length).toBeGreaterThan(15);

    const places: Array<[string, string]> = [['report', readFileSync(join(ws.dir, 'report.csv'), 'utf8')]];
    for (const f of readdirSync(join(ws.dir, 'logs'))) places.push([f, readFileSync(join(ws.dir, 'logs', f), 'utf8')]);
    const redis = new Redis(redisUrl());
    try {
      for (const key of await redis.keys(`${ws.prefix}*`)) {
        const buf = await redis.dumpBuffer(key);
        places.push([key, `${key} ${buf ? buf.toString('latin1') : ''}`]);
        if ((await redis.type(key)) === 'hash') places.push([key, JSON.stringify(await redis.hgetall(key))]);
      }
    } finally {
      redis.disconnect();
    }
    const leaks = places.filter(([, text]) => secrets.some((s) => text.includes(s)) || /\/qr\//.test(text)).map(([w]) => w);
    expect(leaks).toEqual([]);
  });
});
