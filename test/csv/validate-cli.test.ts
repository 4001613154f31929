/**
 * `bulk-enroll validate` through the real CLI (a child process): exit 0 for an
 * all-valid file, 1 with rows listed for invalid or duplicate rows, 2 for an unusable
 * file or a bad flag, and never a stack trace. No Redis, no network.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'be-validate-'));
const children = new Set<ReturnType<typeof spawn>>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // No REDIS_URL / OKTA_* in the environment: validate needs neither.
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, TMPDIR: tmp };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'validate', ...args], { cwd: root, env });
    children.add(child);
    if (stdin !== undefined) child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('bulk-enroll validate', () => {
  it('exit 0 for samples/users.csv', async () => {
    const r = await cli(['samples/users.csv']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('samples/users.csv: 60 rows: 60 valid, 0 invalid, 0 duplicates');
    expect(r.stdout).toContain('All 60 rows valid.');
  });

  it('exit 1 for samples/users-with-errors.csv, every failing row listed with its reason', async () => {
    const r = await cli(['samples/users-with-errors.csv']);
    expect(r.code).toBe(1);
    noStack(r.stderr);
    expect(r.stdout).toContain('21 rows: 7 valid, 12 invalid, 2 duplicates');
    const listed = r.stdout.split('\n').filter((l) => l.startsWith('  row '));
    expect(listed.map((l) => Number(/^  row (\d+):/.exec(l)![1]))).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(r.stdout).toContain('  row 10: INVALID_INPUT: phoneNumber: expected E.164 like +14155550123, got "555-1234"');
    expect(r.stdout).toContain('  row 15: DUPLICATE_ROW: same userId and factorType (push) as row 1');
  });

  it('--json prints the summary and keeps the exit code', async () => {
    const r = await cli(['samples/users-with-errors.csv', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { ok: boolean; rows: number; valid: number; invalidCount: number; duplicateCount: number; sha256: string };
    expect([j.ok, j.rows, j.valid, j.invalidCount, j.duplicateCount]).toEqual([false, 21, 7, 12, 2]);
    expect(j.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('caps the listing at 100 rows with "and N more"', async () => {
    const f = join(tmp, 'many-bad.csv');
    writeFileSync(f, 'userId,factorType\n' + Array.from({ length: 150 }, (_, i) => `00u${i},yubikey\n`).join(''));
    const r = await cli([f]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  row '))).toHaveLength(100);
    expect(r.stdout).toContain('  … and 50 more');
  });

  it('--match / --skip / --max-rows narrow what is checked', async () => {
    const r = await cli(['samples/users-with-errors.csv', '--match', 'factorType=^(push)?$', '--skip', 'login=^me$', '--max-rows', '3']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('3 rows: 2 valid, 1 invalid, 0 duplicates');
  });

  it('exit 2 for an unusable file, with the reason and no stack trace', async () => {
    const r = await cli(['test/fixtures/bad/unclosed-quote.csv']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'Input file problem: test/fixtures/bad/unclosed-quote.csv, line 3: a quoted field is not closed (its opening quote has no closing quote before the end of the file)\n',
    );
    // validate enqueues nothing by design: it does not say so after every problem
    expect(r.stderr).not.toContain('enqueued');
  });

  it('- reads standard input (spooled to an owner-only temp file, removed at exit) and names the delimiter', async () => {
    const csv = 'userId;login;factorType;phoneNumber\n00u1aaaaaaaaaaaaaaaa;;push;\n;jane@example.com;push;\n00u1aaaaaaaaaaaaaaaa;jane@example.com;sms;+14155550100\n';
    const r = await cli(['-'], csv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('standard input: 3 rows: 2 valid, 0 invalid, 1 duplicate\n');
    // row 3 ties the userId of row 1 to the login of row 2: one user, two push rows
    expect(r.stdout).toContain('  row 2: DUPLICATE_ROW: same user and factorType (push) as row 1 (row 3 gives both a userId and a login of this user)\n');
    expect(r.stdout).toContain('delimiter ";" (semicolon), detected from the header');
    const j = await cli(['-', '--json', '--delimiter', ';'], csv.replace('sms', 'push'));
    expect(j.code).toBe(1);
    const s = JSON.parse(j.stdout) as { file: string; delimiter: string; delimiterFrom: string; duplicates: Array<{ row: number; duplicateOf: number }> };
    expect([s.file, s.delimiter, s.delimiterFrom]).toEqual(['-', ';', 'option']);
    expect(s.duplicates.map((d) => [d.row, d.duplicateOf])).toEqual([[2, 1], [3, 1]]);
    expect(readdirSync(tmp).filter((f) => f.startsWith('bulk-enroll-stdin-'))).toEqual([]);
  });

  it('an Okta user export runs with --allow-unknown-columns and says what it reads and ignores', async () => {
    const f = join(tmp, 'okta-export.csv');
    writeFileSync(f, 'ID,Username,First name,Last name,Status\n00u1aaaaaaaaaaaaaaaa,jane@example.com,Jane,Doe,ACTIVE\n');
    const r = await cli([f, '--allow-unknown-columns']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  Okta user export: reading "ID" as userId, "Username" as login; its other columns are ignored\n');
    expect(r.stdout).toContain('  3 columns ignored (not input columns): "First name", "Last name", "Status"\n');
    const bad = await cli([f, '--delimiter', 'colon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--delimiter: expected one of , ; tab | (or comma, semicolon, pipe), got "colon"');
  });

  it('exit 2 for a missing file and for binary content', async () => {
    for (const [file, text] of [
      [join(tmp, 'nope.csv'), 'file not found'],
      ['test/fixtures/bad/excel-workbook.csv', 'this is a ZIP file'],
    ] as const) {
      const r = await cli([file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(text);
      noStack(r.stderr);
    }
  });

  it('exit 2 for bad flags, every problem listed', async () => {
    const r = await cli(['samples/users.csv', '--match', 'nocolumn', '--max-rows', 'ten']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--match "nocolumn": expected column=regex, like department=^Finance$');
    expect(r.stderr).toContain('--max-rows: expected a whole number >= 1, got "ten"');
    noStack(r.stderr);
  });
});
