/**
 * Where a report can go, asked before any work (checkReportTarget), and what a write that
 * fails says (ReportWriteError names the file; no temp file is left; an earlier report is
 * unchanged): a directory or a device as the target, a folder under a file, a read-only
 * file system and a full disk (small tmpfs mounts: those cases are skipped where this
 * process may not mount). --excel's byte order mark, with the formula guard kept.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReportTarget, readReport, REPORT_COLUMNS, ReportWriteError, writeCsv, writeReport, type ReportRow } from '../../src/csv/report.js';
import { FatalRunError } from '../../src/errors.js';
import { error, useTempFiles } from './helpers.js';

const { dir } = useTempFiles('target');

function reportRow(row: number, over: Partial<ReportRow> = {}): ReportRow {
  const base = Object.fromEntries(REPORT_COLUMNS.map((c) => [c, ''])) as ReportRow;
  return { ...base, row: String(row), userId: `00u${String(row).padStart(17, 'a')}`, factorType: 'push', outcome: 'activated', ...over };
}

/** Run f with a fresh tmpfs mounted at a new folder (options as for mount -o), unmounted after; false when mounting is not allowed here. */
function withTmpfs(options: string, f: (mountPoint: string) => Promise<void>): Promise<boolean> {
  const at = join(dir, `mnt-${Math.random().toString(36).slice(2)}`);
  mkdirSync(at);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { stdio: 'ignore' });
  } catch {
    return Promise.resolve(false);
  }
  return f(at)
    .finally(() => execFileSync('umount', [at]))
    .then(() => true);
}

describe('checkReportTarget', () => {
  it('fine: a new file, in folders still to be created; nothing is created by the check', () => {
    expect(checkReportTarget(join(dir, 'r.csv'))).toBeUndefined();
    const nested = join(dir, 'a', 'b', 'r.csv');
    expect(checkReportTarget(nested)).toBeUndefined();
    expect(existsSync(join(dir, 'a'))).toBe(false);
    writeFileSync(join(dir, 'old.csv'), 'x');
    expect(checkReportTarget(join(dir, 'old.csv'))).toBeUndefined();
  });

  it('refused, each in a sentence naming the path: a directory, a device, a folder under a file, a name too long, no name', () => {
    expect(checkReportTarget(dir)).toBe(`${dir} is a directory; give a file name inside it, like ${join(dir, 'report.csv')}`);
    expect(checkReportTarget('/dev/null')).toBe('/dev/null is a device, not a regular file');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(checkReportTarget(join(file, 'sub', 'r.csv'))).toBe(`the folder ${join(file, 'sub')} for ${join(file, 'sub', 'r.csv')} cannot be created: ${file} is a file, not a folder`);
    const long = join(dir, `${'x'.repeat(240)}.csv`);
    expect(checkReportTarget(long)).toBe(`${long}: the file name is too long (at most 223 bytes)`);
    expect(checkReportTarget('  ')).toBe('no file name given for the report');
    expect(checkReportTarget(join(dir, 'new-folder') + '/')).toBe(`${join(dir, 'new-folder')}/ names a folder (it ends with a slash); give a file name, like ${join(dir, 'new-folder', 'report.csv')}`);
  });

  it('a read-only file system: its folder is not writable, and a folder cannot be created in it', async (ctx) => {
    const mounted = await withTmpfs('ro,size=64k', async (ro) => {
      expect(checkReportTarget(join(ro, 'r.csv'))).toBe(`the folder ${ro} for ${join(ro, 'r.csv')} is not writable (the file system is read-only)`);
      expect(checkReportTarget(join(ro, 'sub', 'r.csv'))).toBe(
        `the folder ${join(ro, 'sub')} for ${join(ro, 'sub', 'r.csv')} does not exist and cannot be created in ${ro} (the file system is read-only)`,
      );
    });
    if (!mounted) ctx.skip();
  });
});

describe('writeCsv failures name the file and leave nothing behind', () => {
  it('a directory or a device as the target is refused before anything is written', async () => {
    const d = join(dir, 'target-dir');
    mkdirSync(d);
    const e = await error(writeReport(d, [reportRow(1)]));
    expect(e).toBeInstanceOf(ReportWriteError);
    expect(e).toBeInstanceOf(FatalRunError);
    expect(e.message).toBe(`cannot write ${d}: it is a directory, not a regular file`);
    expect(readdirSync(d)).toEqual([]);
    const dev = await error(writeCsv('/dev/null', ['a'], [{ a: '1' }]));
    expect(dev.message).toBe('cannot write /dev/null: it is a device, not a regular file');
    expect(readdirSync('/dev').filter((f) => f.startsWith('.null.'))).toEqual([]);
  });

  it('a folder that cannot be created', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const e = await error(writeReport(join(file, 'r.csv'), [reportRow(1)]));
    expect(e.message).toBe(`cannot write ${join(file, 'r.csv')}: a part of the path is a file, not a folder`);
  });

  it('a full disk: the error names the file, no temp file is left, the earlier report is unchanged', async (ctx) => {
    const mounted = await withTmpfs('size=64k', async (small) => {
      const out = join(small, 'report.csv');
      await writeReport(out, [reportRow(1)]);
      const before = readFileSync(out);
      function* many(): Generator<ReportRow> {
        for (let i = 1; i <= 5000; i++) yield reportRow(i, { login: `jürgen.${i}@example.com` });
      }
      const e = (await error(writeReport(out, many()))) as ReportWriteError;
      expect(e).toBeInstanceOf(ReportWriteError);
      expect(e.message).toBe(`cannot write ${out}: the disk is full (no space left on the device); nothing was written and an earlier file of that name is unchanged`);
      expect([e.file, e.code]).toEqual([out, 'ENOSPC']);
      expect(readdirSync(small)).toEqual(['report.csv']);
      expect(readFileSync(out)).toEqual(before);
    });
    if (!mounted) ctx.skip();
  });
});

describe('--excel: a UTF-8 byte order mark', () => {
  it('starts the file, is in the SHA-256, keeps the formula guard, and reads back exactly', async () => {
    const out = join(dir, 'excel.csv');
    const rows = [reportRow(1, { login: 'jürgen.müller@example.com', deviceName: '=HYPERLINK("http://x")' }), reportRow(2, { note: 'Zoë' })];
    const { sha256 } = await writeReport(out, rows, { bom: true });
    const bytes = readFileSync(out);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(3, 6).toString()).toBe('row');
    expect(sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.toString('utf8')).toContain(`,"'=HYPERLINK(""http://x"")"`);
    const back: ReportRow[] = [];
    for await (const r of readReport(out)) back.push(r);
    expect(back).toEqual(rows);
    // and without the option, no BOM
    await writeReport(out, rows);
    expect(readFileSync(out).subarray(0, 3).toString()).toBe('row');
  });
});
