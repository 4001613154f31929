/**
 * The budget across separate worker processes (node --import tsx fixtures/worker.ts)
 * on one Redis, counted by a server that plays an Okta bucket. Needs Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { createSharedLimiter, type SharedLimiter } from '../../src/limiter/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { startWindowServer, type WindowServer } from './window-server.js';

const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const children: ChildProcess[] = [];
const servers: WindowServer[] = [];
const limiters: SharedLimiter[] = [];
let prefix = '';

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
  await Promise.all(limiters.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  if (prefix) await cleanPrefix(redisUrl(), prefix);
});

interface WorkerConfig {
  mode: 'drive' | 'hold';
  url: string;
  ratePerMinute: number;
  maxConcurrent: number;
  loops?: number;
  durationMs?: number;
  startAt?: number;
  leaseMs?: number;
}

/** Starts a worker; resolves with its first stdout line parsed, rejects if it exits first. */
function worker(cfg: WorkerConfig): { child: ChildProcess; firstLine: Promise<Record<string, unknown>> } {
  const full = { loops: 0, durationMs: 0, startAt: 0, ...cfg, redisUrl: redisUrl(), prefix };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(full)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before answering; stderr: ${err.slice(-2000)}`)));
  });
  return { child, firstLine };
}

describe('across processes', () => {
  test('three workers together hold a 60-per-2 s bucket: never over, at least 90% used', async () => {
    prefix = uniquePrefix('lim-procs');
    const s = await startWindowServer({ limit: 60, windowMs: 2000 });
    servers.push(s);
    const startAt = Date.now() + 3000; // tsx start-up takes a moment on a busy machine
    const cfg = { mode: 'drive' as const, url: s.url, ratePerMinute: 3000, maxConcurrent: 20, loops: 6, durationMs: 5000, startAt };
    const results = await Promise.all([worker(cfg), worker(cfg), worker(cfg)].map((w) => w.firstLine));
    const sent = results.map((r) => r.sent as number);
    // Every process got a fair part of the budget.
    for (const n of sent) expect(n).toBeGreaterThan(20);
    const ids = [...s.perWindow.keys()].filter((id) => s.windowOf(startAt) < id && id < s.windowOf(startAt + 5000)).sort((a, b) => a - b);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      expect(s.perWindow.get(id)).toBeLessThanOrEqual(60);
      expect(s.perWindow.get(id)).toBeGreaterThanOrEqual(54);
    }
    const total429 = results.reduce((a, r) => a + (r.status429 as number), 0);
    expect(total429).toBeLessThanOrEqual(1);
  });

  test('two workers together keep the concurrency cap', async () => {
    prefix = uniquePrefix('lim-procs-conc');
    const s = await startWindowServer({ limit: 1_000_000, windowMs: 60_000, latencyMs: 80 });
    servers.push(s);
    const startAt = Date.now() + 3000;
    const cfg = { mode: 'drive' as const, url: s.url, ratePerMinute: 1_000_000, maxConcurrent: 6, loops: 10, durationMs: 1500, startAt };
    await Promise.all([worker(cfg), worker(cfg)].map((w) => w.firstLine));
    expect(s.maxInFlight).toBeLessThanOrEqual(6);
    expect(s.maxInFlight).toBeGreaterThanOrEqual(5);
  });

  test('the slots of a killed worker come back when its lease runs out', async () => {
    prefix = uniquePrefix('lim-lease');
    const holder = worker({ mode: 'hold', url: 'http://127.0.0.1:9/', ratePerMinute: 60_000, maxConcurrent: 3, leaseMs: 1000 });
    expect(await holder.firstLine).toEqual({ holding: 3 });
    const mine = await createSharedLimiter({ redisUrl: redisUrl(), prefix, buckets: { factors: { ratePerMinute: 60_000, maxConcurrent: 3 } }, leaseMs: 1000 });
    limiters.push(mine);
    // While the holder lives (and renews its lease), no slot is free.
    const early = await Promise.race([mine.run('factors', async () => 'ran'), new Promise((r) => setTimeout(() => r('blocked'), 1500))]);
    expect(early).toBe('blocked');
    const exited = new Promise((r) => holder.child.once('exit', r));
    holder.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    // The request queued above (and a new one) get through once the lease has run out.
    await mine.run('factors', async () => undefined);
    const waited = Date.now() - killedAt;
    expect(waited).toBeLessThan(2500);
    expect(mine.stats().buckets.factors?.granted).toBe(2);
  });
});
