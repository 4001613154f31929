/**
 * The dashboard on a real Redis (test/helpers/redis.ts) and real HTTP: headless
 * Chromium (Debian's `chromium`, driven by playwright-core) loads the run list, a run's
 * page and bull-board's queues; a screenshot is saved under test-output/. Bound to a
 * non-loopback address it refuses to start without credentials and TLS, and answers 401
 * to a request without credentials. Read-only unless actions are allowed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardHandle } from '../../src/dashboard/server.js';
import { exposureProblems, isLoopback } from '../../src/dashboard/access.js';
import { ConfigError } from '../../src/errors.js';
import { jobIds, QUEUES } from '../../src/runs/keys.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { killAll, ROOT, runCli, startCli } from '../helpers/cli.js';
import { HOSTILE, HOSTILE_FILE, seedRun, type SeededRun } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(`dashboard browser test skipped: ${CHROMIUM} is missing (install it with \`apt-get install -y chromium\`; the CI script .ci/run does)`);
}
const OUT_DIR = join(ROOT, 'test-output');
const CREDS = { user: 'operator', password: 'correct horse battery' };

let prefix: string;
let dir: string;
let redis: Redis;
let dash: DashboardHandle | undefined;
let browser: Browser | undefined;
let seeded: SeededRun;

beforeEach(async () => {
  prefix = uniquePrefix('dash');
  dir = mkdtempSync(join(tmpdir(), 'be-dash-'));
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  seeded = await seedRun(redis, prefix, dir);
});

afterEach(async () => {
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await dash?.close();
  dash = undefined;
  await killAll();
  redis.disconnect();
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('in a real browser', () => {
  it.skipIf(!HAVE_CHROMIUM)('shows the runs, a run with its counts, the queues of the prefix, and runs none of the hostile text', async () => {
    // One waiting job so the queue view has something to count.
    const q = new Queue(QUEUES.enroll, { connection: redis, prefix });
    await q.add('enroll', { runId: seeded.runId, row: 5 }, { jobId: jobIds.enroll(seeded.runId, 5) });
    await q.close();

    dash = await startDashboard({ redisUrl: redisUrl(), prefix, port: 0 });
    expect(dash.host).toBe('127.0.0.1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    // The run list: the run, its input's name shown as text.
    await page.goto(`${dash.url}/`);
    const row = page.locator(`tr[data-run="${seeded.runId}"]`);
    await expect(row.textContent()).resolves.toContain(HOSTILE_FILE);
    expect(await row.locator('td').nth(3).textContent()).toBe('4/5');

    // The run's page: counts by outcome and progress.
    await row.locator('a').click();
    await page.waitForURL(`**/runs/${seeded.runId}`);
    for (const [outcome, n] of Object.entries(seeded.counts)) {
      if (outcome === 'total') continue;
      expect(await page.locator(`[data-count="${outcome}"]`).textContent(), outcome).toBe(String(n));
    }
    expect(await page.locator('[data-progress]').textContent()).toBe('4/5');
    expect(await page.locator('img').count()).toBe(0);
    mkdirSync(OUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUT_DIR, 'dashboard-run.png'), fullPage: true });

    // The report link downloads the CSV, generated from Redis, rows in order.
    const href = await page.locator('a[download]').getAttribute('href');
    const csv = await (await fetch(`${dash.url}${href}`)).text();
    const rows = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => [r.row, r.outcome])).toEqual([
      ['1', 'activated'],
      ['2', 'failed'],
      ['3', 'expired'],
      ['4', 'failed'],
      ['5', 'pending'],
    ]);
    expect(rows[1]!.deviceName).toBe(HOSTILE);

    // bull-board: the project's two queues under this prefix.
    await page.goto(`${dash.url}/queues`);
    await page.getByText(QUEUES.enroll, { exact: true }).first().waitFor({ timeout: 20_000 });
    await page.getByText(QUEUES.poll, { exact: true }).first().waitFor({ timeout: 20_000 });
    // The enroll queue's waiting job (the job id names the run and the row).
    await page.goto(`${dash.url}/queues/queue/${QUEUES.enroll}?status=waiting`);
    await page.getByText(jobIds.enroll(seeded.runId, 5)).first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(OUT_DIR, 'dashboard-queues.png'), fullPage: true });
    expect(existsSync(join(OUT_DIR, 'dashboard-queues.png'))).toBe(true);

    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
  });
});

describe('access', () => {
  it('knows loopback addresses and refuses a non-loopback bind without credentials and TLS', async () => {
    expect(['127.0.0.1', '127.0.0.2', '::1', 'localhost', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.5', '::', 'dashboard.example.com'].some(isLoopback)).toBe(false);
    expect(exposureProblems({ host: '127.0.0.1' })).toEqual([]);
    const both = exposureProblems({ host: '0.0.0.0' });
    expect(both).toHaveLength(2);
    expect(both[0]).toMatch(/needs credentials; expected BULK_ENROLL_DASHBOARD_USER/);
    expect(both[1]).toMatch(/needs TLS; expected --tls-cert and --tls-key, or --behind-tls-proxy/);
    expect(exposureProblems({ host: '0.0.0.0', credentials: CREDS, behindTlsProxy: true })).toEqual([]);
    await expect(startDashboard({ redisUrl: redisUrl(), prefix, host: '0.0.0.0', port: 0, credentials: CREDS })).rejects.toBeInstanceOf(ConfigError);
    await expect(startDashboard({ redisUrl: redisUrl(), prefix, host: '0.0.0.0', port: 0, behindTlsProxy: true })).rejects.toThrow(/needs credentials/);
  });

  it('bound to 0.0.0.0 with credentials: 401 without them or with a wrong password, 200 with them', async () => {
    dash = await startDashboard({ redisUrl: redisUrl(), prefix, host: '0.0.0.0', port: 0, credentials: CREDS, behindTlsProxy: true });
    const base = `http://127.0.0.1:${dash.port}`;
    for (const path of ['/', `/runs/${seeded.runId}`, `/runs/${seeded.runId}/report.csv`, '/queues', '/queues/api/queues', '/api/runs']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await res.text()).not.toContain(seeded.runId);
    }
    expect((await fetch(`${base}/`, { headers: { authorization: basic(CREDS.user, 'wrong password') } })).status).toBe(401);
    const ok = await fetch(`${base}/api/runs`, { headers: { authorization: basic(CREDS.user, CREDS.password) } });
    expect(ok.status).toBe(200);
    const runs = (await ok.json()) as Array<{ runId: string; done: number; failed: number }>;
    expect(runs.map((r) => [r.runId, r.done, r.failed])).toEqual([[seeded.runId, 4, 2]]);
  });

  it('serves HTTPS with --tls-cert / --tls-key, credentials still required', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`openssl could not make a test certificate: ${gen.stderr}`);
    dash = await startDashboard({ redisUrl: redisUrl(), prefix, host: '0.0.0.0', port: 0, credentials: CREDS, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    expect(dash.url).toMatch(/^https:/);
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const url = `https://127.0.0.1:${dash.port}/api/runs`;
      expect((await undiciFetch(url, { dispatcher })).status).toBe(401);
      const ok = await undiciFetch(url, { dispatcher, headers: { authorization: basic(CREDS.user, CREDS.password) } });
      expect(ok.status).toBe(200);
      // plain HTTP on the TLS port gets no page
      await expect(fetch(`http://127.0.0.1:${dash.port}/api/runs`).then((r) => r.status)).rejects.toThrow();
    } finally {
      await dispatcher.close();
    }
  });

  it('is read-only unless actions are allowed', async () => {
    dash = await startDashboard({ redisUrl: redisUrl(), prefix, port: 0 });
    const pause = () => fetch(`${dash!.url}/queues/api/queues/${QUEUES.enroll}/pause`, { method: 'PUT' });
    expect((await pause()).status).toBe(405);
    const q = new Queue(QUEUES.enroll, { connection: redis, prefix });
    expect(await q.isPaused()).toBe(false);
    await dash.close();
    dash = await startDashboard({ redisUrl: redisUrl(), prefix, port: 0, allowActions: true });
    expect((await pause()).status).toBeLessThan(300);
    expect(await q.isPaused()).toBe(true);
    await q.close();
  });

  it('answers 404 for a run that does not exist, naming it as text', async () => {
    dash = await startDashboard({ redisUrl: redisUrl(), prefix, port: 0 });
    const res = await fetch(`${dash.url}/runs/${encodeURIComponent('<b>nope</b>')}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  });
});

describe('the command', () => {
  it('refuses to bind 0.0.0.0 without credentials and TLS (exit 2, both reasons)', async () => {
    const r = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { env: { REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix, BULK_ENROLL_DASHBOARD_USER: undefined, BULK_ENROLL_DASHBOARD_PASSWORD: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs credentials/);
    expect(r.stderr).toMatch(/needs TLS/);
  });

  it('listens on 127.0.0.1 by default and stops cleanly on SIGTERM', async () => {
    const p = startCli(['dashboard', '--port', '0', '--log-file', join(dir, 'd.log')], { env: { REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix } });
    const m = await p.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const res = await fetch(`${m[1]}/api/runs`);
    expect(res.status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
