/**
 * No temporary file with user data outlives its process: a report being rewritten when a
 * second SIGTERM forces the exit (the run's shutdown handler installed), a report being
 * written when a single SIGTERM ends a process that has no handler of its own, and the
 * spooled copy of standard input, at a normal exit and at a signal. Real child processes
 * (test/csv/children/temp-files.ts), each stopped by the test that started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempFiles, trackedTempFiles, trackTempFile } from '../../src/tmp-files.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'children', 'temp-files.ts');
const started = new Set<ChildProcess>();
let dir = '';

afterEach(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  started.clear();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Child {
  child: ChildProcess;
  line(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function start(args: string[], stdin = false): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    env: { ...process.env, TMPDIR: dir },
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const line = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const t = setInterval(() => {
        const m = out.match(re);
        if (m) {
          clearInterval(t);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearInterval(t);
          reject(new Error(`child ended before ${re}: ${out}\n${err}`));
        }
      }, 20);
    });
  return { child, line, exited, stderr: () => err };
}

const temps = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp') || f.startsWith('bulk-enroll-stdin-'));

describe('temporary files', () => {
  it('a second SIGTERM during a report rewrite: exit 130, no .tmp left, the earlier report untouched', async () => {
    dir = mkdtempSync(join(tmpdir(), 'be-tmpfiles-'));
    const out = join(dir, 'reports', 'run.csv');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, 'the earlier report\n');
    const w = start(['report', out, 'shutdown']);
    const [, tmp] = (await w.line(/writing (\S+)/)) as unknown as [string, string];
    expect(existsSync(tmp)).toBe(true);
    expect(statSync(tmp).mode & 0o777).toBe(0o600);
    w.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // the first SIGTERM asks for an orderly stop; the write goes on
    expect(w.child.exitCode).toBeNull();
    expect(existsSync(tmp)).toBe(true);
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 130, signal: null });
    expect(w.stderr()).toContain('SIGTERM received again: exiting now');
    expect(temps(dirname(out))).toEqual([]);
    expect(readFileSync(out, 'utf8')).toBe('the earlier report\n');
  });

  it('one SIGTERM to a process without a handler of its own: the .tmp goes, the process still dies of the signal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'be-tmpfiles-'));
    const out = join(dir, 'r.csv');
    const w = start(['report', out, 'plain']);
    const [, tmp] = (await w.line(/writing (\S+)/)) as unknown as [string, string];
    expect(existsSync(tmp)).toBe(true);
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(temps(dir)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it('the spooled standard input is owner-only and removed at a normal exit and at SIGINT', async () => {
    dir = mkdtempSync(join(tmpdir(), 'be-tmpfiles-'));
    for (const how of ['exit', 'wait'] as const) {
      const s = start(['spool', how], true);
      s.child.stdin!.end('userId\n00u1aaaaaaaaaaaaaaaa\n');
      const [, path] = (await s.line(/spooled (\S+)/)) as unknown as [string, string];
      expect(dirname(path)).toBe(dir);
      if (how === 'wait') {
        expect(statSync(path).mode & 0o777).toBe(0o600);
        s.child.kill('SIGINT');
        expect(await s.exited).toEqual({ code: null, signal: 'SIGINT' });
      } else {
        expect(await s.exited).toEqual({ code: 0, signal: null });
      }
      expect(existsSync(path)).toBe(false);
    }
  });

  it('in-process: tracked files are listed until forgotten, and removeTempFiles removes them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'be-tmpfiles-'));
    const a = join(dir, 'a.tmp');
    const b = join(dir, 'b.tmp');
    const forgetA = trackTempFile(a);
    trackTempFile(b);
    writeFileSync(a, 'x');
    writeFileSync(b, 'y');
    expect(trackedTempFiles()).toEqual([a, b]);
    const sigterm = process.listenerCount('SIGTERM');
    forgetA();
    expect(trackedTempFiles()).toEqual([b]);
    removeTempFiles();
    expect([existsSync(a), existsSync(b)]).toEqual([true, false]);
    expect(trackedTempFiles()).toEqual([]);
    // nothing tracked: no signal handler of ours is left to change how the process ends
    expect(process.listenerCount('SIGTERM')).toBe(sigterm - 1);
  });
});
