/**
 * Spawning the real CLI as operators run it (the built `dist/src/cli.js`; `npm run bench`
 * builds first) and measuring its peak RSS.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Scope } from './cleanup.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const PEAK_RSS = join(ROOT, 'bench', 'lib', 'peak-rss.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the CLI process, bytes. */
  peakRss: number;
  ms: number;
}

export async function runCliMeasured(scope: Scope, args: string[], opts: { dir: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const rssFile = join(opts.dir, `peak-rss-${process.hrtime.bigint()}.txt`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', PEAK_RSS, CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', FORCE_COLOR: '0', ...opts.env, BENCH_PEAK_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? 128 : 1))));
  scope.add(`bulk-enroll ${args[0]}`, child, async (c) => {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited;
    }
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  const ms = Date.now() - started;
  let peakRss = NaN;
  try {
    peakRss = Number(readFileSync(rssFile, 'utf8'));
    rmSync(rssFile, { force: true });
  } catch {
    // killed before exit handlers ran
  }
  if (ms >= opts.timeoutMs) throw new Error(`bulk-enroll ${args.join(' ')}: expected to finish within ${Math.round(opts.timeoutMs / 1000)} s, killed`);
  return { code, stdout, stderr, peakRss, ms };
}
