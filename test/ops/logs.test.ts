/**
 * Logs as a platform collects them: JSON lines on stderr (ISO timestamps, runId / row /
 * jobId first) when stderr is not a terminal, readable dated text on a terminal, no log
 * file unless --log-file, and a log file that rotates by size. Secrets stay masked in
 * both formats.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { createLogger, loggerOptions, registerSecret, type Logger } from '../../src/logger.js';
import { loadProcessConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { ROOT } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'be-logs-'));
  dirs.push(d);
  return d;
}

/** A stderr stand-in that collects lines; isTTY as a terminal would say. */
function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; lines: () => string[] } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, lines: () => text.split('\n').filter(Boolean) };
}

function closed(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on('finish', () => setTimeout(resolve, 20));
    logger.end();
  });
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

it('JSON lines: ISO timestamp, level, message, then runId, row and jobId, then the rest; secrets masked', async () => {
  const out = capture(false);
  const logger = createLogger({ stream: out.stream, format: 'json', level: 'debug' });
  registerSecret('logs-test-secret-token-0123456789');
  logger.info('enrolled', { jobId: 'enroll-r1-7', detail: 'x', row: 7, runId: 'r1' });
  logger.warn('token logs-test-secret-token-0123456789 was sent with Authorization: SSWS 00abcdefghijklmnop');
  logger.debug('plain line');
  await closed(logger);
  const [first, second, third] = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(Object.keys(first!)).toEqual(['timestamp', 'level', 'message', 'runId', 'row', 'jobId', 'detail']);
  expect(first).toMatchObject({ level: 'info', message: 'enrolled', runId: 'r1', row: 7, jobId: 'enroll-r1-7' });
  expect(String(first!.timestamp)).toMatch(ISO);
  expect(String(second!.message)).not.toContain('logs-test-secret-token-0123456789');
  expect(String(second!.message)).not.toContain('00abcdefghijklmnop');
  expect(String(second!.message)).toContain('[REDACTED]');
  expect(Object.keys(third!)).toEqual(['timestamp', 'level', 'message']);
});

it('text on a terminal, JSON elsewhere, by default; text lines carry an ISO date', async () => {
  const tty = capture(true);
  const pipe = capture(false);
  const a = createLogger({ stream: tty.stream });
  const b = createLogger({ stream: pipe.stream });
  a.info('worker started', { pid: 42 });
  b.info('worker started', { pid: 42 });
  await Promise.all([closed(a), closed(b)]);
  expect(tty.lines()).toHaveLength(1);
  expect(tty.lines()[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z info worker started \{"pid":42\}$/);
  expect(JSON.parse(pipe.lines()[0]!)).toMatchObject({ level: 'info', message: 'worker started', pid: 42 });
  // A process's configuration picks the format (and --log-format beats the terminal check).
  const forced = capture(true);
  const c = createLogger({ ...loggerOptions(loadProcessConfig({ logFormat: 'json' }, { needOkta: false, env: {} })), stream: forced.stream });
  c.info('x');
  await closed(c);
  expect(JSON.parse(forced.lines()[0]!)).toMatchObject({ message: 'x' });
});

it('a log file rotates by size: newest lines in the named file, older ones in <name>.1, <name>.2, at most --log-max-files files, none lost', async () => {
  const dir = tempDir();
  const file = join(dir, 'logs', 'worker.log');
  const logger = createLogger({ console: false, file, maxSizeBytes: 4096, maxFiles: 3 });
  // One burst, as at start-up or when many jobs fail at once.
  for (let i = 0; i < 300; i++) logger.info(`line ${i} ${'x'.repeat(60)}`, { runId: 'r1', row: i });
  await closed(logger);
  expect(readdirSync(join(dir, 'logs')).sort()).toEqual(['worker.log', 'worker.log.1', 'worker.log.2']);
  const rowsOf = (f: string) =>
    readFileSync(join(dir, 'logs', f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { row: number; runId: string; timestamp: string });
  for (const f of ['worker.log', 'worker.log.1', 'worker.log.2']) expect(statSync(join(dir, 'logs', f)).size).toBeLessThanOrEqual(4096);
  expect(statSync(join(dir, 'logs', 'worker.log.1')).size).toBeGreaterThan(4096 - 200);
  // Oldest to newest: .2, .1, the file itself; consecutive rows up to the last one written.
  const rows = ['worker.log.2', 'worker.log.1', 'worker.log'].flatMap(rowsOf);
  const numbered = rows.map((r) => r.row);
  expect(numbered[numbered.length - 1]).toBe(299);
  expect(numbered.every((n, i) => i === 0 || n === numbered[i - 1]! + 1)).toBe(true);
  // The oldest lines went with the file that rotated out.
  expect(numbered[0]).toBeGreaterThan(0);
  for (const r of rows) expect(r.timestamp).toMatch(ISO);
  expect(Object.keys(rows[0]!).slice(0, 5)).toEqual(['timestamp', 'level', 'message', 'runId', 'row']);

  // A restart appends to the file it finds and keeps counting its size.
  const again = createLogger({ console: false, file, maxSizeBytes: 4096, maxFiles: 3 });
  again.info('after restart', { row: 300 });
  await closed(again);
  const all = ['worker.log.2', 'worker.log.1', 'worker.log'].flatMap(rowsOf).map((r) => r.row);
  expect(all[all.length - 1]).toBe(300);
  expect(all.every((n, i) => i === 0 || n === all[i - 1]! + 1)).toBe(true);
});

it('log flags are checked: sizes like 50m, file count, format; rotation flags only with --log-file', () => {
  const c = loadProcessConfig({ logFile: 'a.log', logMaxSize: '50m', logMaxFiles: '7', logFormat: 'TEXT' }, { needOkta: false, env: {} });
  expect(c).toMatchObject({ logFile: 'a.log', logMaxSizeBytes: 50 * 1024 * 1024, logMaxFiles: 7, logFormat: 'text' });
  expect(loadProcessConfig({}, { needOkta: false, env: { BULK_ENROLL_LOG_MAX_SIZE: '512k', BULK_ENROLL_LOG_FILE: 'b.log' } }).logMaxSizeBytes).toBe(512 * 1024);
  expect(loadProcessConfig({}, { needOkta: false, env: {} })).toMatchObject({ logMaxSizeBytes: 50 * 1024 * 1024, logMaxFiles: 5, closeTimeoutMs: 25_000 });
  let err: unknown;
  try {
    loadProcessConfig({ logMaxSize: 'huge', logMaxFiles: '0', logFormat: 'xml', closeTimeoutMs: '10' }, { needOkta: false, env: {} });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems).toEqual([
    '--log-format / BULK_ENROLL_LOG_FORMAT: expected json or text, got `xml`',
    '--log-max-size / BULK_ENROLL_LOG_MAX_SIZE: expected a size of at least 1024 bytes like 50m, 512k or 1g, got `huge`',
    '--log-max-files / BULK_ENROLL_LOG_MAX_FILES: expected a whole number from 1 to 1000, got `0`',
    '--close-timeout-ms / BULK_ENROLL_CLOSE_TIMEOUT_MS: expected a whole number from 1000 to 3600000, got `10`',
    '--log-max-size: only used with --log-file (without it nothing is written to a file)',
    '--log-max-files: only used with --log-file (without it nothing is written to a file)',
  ]);
});

/** The CLI in another working folder (tsx loaded by path, since `tsx` resolves from the cwd). */
function cliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'), join(ROOT, 'src', 'cli.ts'), ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

it('a command writes no log file unless --log-file names one', async () => {
  const cwd = tempDir();
  // Redis that is not there: the worker logs its start-up, then stops with exit 1.
  const env = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'logs-test-token-abcdef', REDIS_URL: 'redis://127.0.0.1:9' };
  const [plain, made] = await Promise.all([
    cliIn(cwd, ['worker', '--prefix', 'logs-plain'], env),
    cliIn(cwd, ['worker', '--prefix', 'logs-file', '--log-file', 'out/w.log', '--log-max-size', '1m', '--log-max-files', '2'], env),
  ]);
  expect(plain.code).toBe(1);
  expect(plain.stderr).toMatch(/Redis is not reachable/);
  // Off a terminal the start-up warning and the failure are still plain to read: the
  // last line is cli.ts's own message, the others JSON.
  expect(plain.stderr.trim().split('\n').slice(0, -2).every((l) => l.startsWith('{'))).toBe(true);
  expect(made.code).toBe(1);
  expect(existsSync(join(cwd, 'out', 'w.log'))).toBe(true);
  // Nothing else appeared in the working folder: no logs/.
  expect(readdirSync(cwd).sort()).toEqual(['out']);
});
