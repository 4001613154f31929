/**
 * `run` the way an admin pipes an export in: an Okta user export saved by a German
 * Excel (`;`-delimited, UTF-8 names) on standard input (`run -`), with
 * --allow-unknown-columns, --skip on its Status column and --excel, against the real
 * simulator over HTTP and a real Redis. The run's log says how the file was read, the
 * report opens in Excel (BOM), the spooled copy is gone afterwards; a bad file still
 * says that nothing was enqueued.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readReport, type ReportRow } from '../../src/csv/report.js';
import { startSimulator } from '../../src/simulator/index.js';
import { ROOT } from '../helpers/cli.js';
import { redisUrl } from '../helpers/redis.js';
import { useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('csvrun');
const TOKEN = 'csv-run-token-0123456789';

/** The CLI with `input` on its standard input; killed by the test on timeout. */
function cli(args: string[], input: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', FORCE_COLOR: '0', TMPDIR: ws.dir, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('run - (standard input)', () => {
  it('an Okta export with ; runs as it is: the log names the delimiter and the columns, the report has a BOM', async () => {
    const directory = join(ws.dir, 'directory.csv');
    writeFileSync(
      directory,
      'id,login,activation,group\n00u1aaaaaaaaaaaaaaaa,juergen.mueller@example.com,150,\n00u2bbbbbbbbbbbbbbbb,zoe@example.com,150,\n00u3cccccccccccccccc,gone@example.com,never,\n',
    );
    ws.sim = await startSimulator({ usersCsv: directory, activationTtlMs: 5000, rateLimit: 100_000, token: TOKEN });
    const input =
      'ID;Username;First name;Last name;Status;Last login\r\n' +
      '00u1aaaaaaaaaaaaaaaa;juergen.mueller@example.com;Jürgen;Müller;ACTIVE;2024-05-01\r\n' +
      '00u3cccccccccccccccc;gone@example.com;Gone;Away;SUSPENDED;\r\n' +
      '00u2bbbbbbbbbbbbbbbb;zoe@example.com;Zoë;Ørsted;ACTIVE;\r\n';
    const report = join(ws.dir, 'out', 'report.csv');
    const log = join(ws.dir, 'run.log');
    const r = await cli(
      ['run', '-', '--report', report, '--excel', '--allow-unknown-columns', '--skip', 'Status=^SUSPENDED$', '--org-url', ws.sim.url, '--redis', redisUrl(), '--prefix', ws.prefix,
        '--rate-limit', '100000', '--users-rate-limit', '100000', '--poll-initial-ms', '100', '--log-file', log, '--log-level', 'info'],
      input,
      { OKTA_API_TOKEN: TOKEN },
    );
    expect(r.stderr.split('\n').filter((l) => /"level":"error"|Unexpected error/i.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const bytes = readFileSync(report);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows: ReportRow[] = [];
    for await (const row of readReport(report)) rows.push(row);
    expect(rows.map((x) => [x.row, x.userId, x.login, x.outcome])).toEqual([
      ['1', '00u1aaaaaaaaaaaaaaaa', 'juergen.mueller@example.com', 'activated'],
      ['3', '00u2bbbbbbbbbbbbbbbb', 'zoe@example.com', 'activated'],
    ]);
    const logText = readFileSync(log, 'utf8');
    expect(logText).toContain('input standard input: 2 rows; delimiter \\";\\" (semicolon), detected from the header; Okta user export: reading \\"ID\\" as userId, \\"Username\\" as login');
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('bulk-enroll-stdin-'))).toEqual([]);
  });

  it('a bad file on standard input: exit 2, named as standard input, nothing enqueued', async () => {
    const r = await cli(['run', '-', '--report', join(ws.dir, 'r.csv'), '--redis', redisUrl(), '--prefix', ws.prefix], 'Email;factorType\r\njane@example.com;push\r\n', {
      OKTA_API_TOKEN: TOKEN,
      OKTA_ORG_URL: 'http://127.0.0.1:9',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'Input file problem: standard input, line 1: the header has neither a userId nor a login column (expected at least one of them; found "Email", "factorType"); ' +
        'column 1 "Email": did you mean login? Rename it to login if it holds the users\' Okta usernames (often their email addresses; `email` itself is the address of an email factor)\n' +
        'Nothing was enqueued.\n',
    );
  });
});
