/**
 * A child process for test/csv/tmp-files.test.ts: writes a report that never ends (or
 * spools standard input) so that the test can signal it in the middle, with or without
 * the run's shutdown handler installed.
 *   report <out.csv> shutdown|plain   prints "writing <tmp>" once the temp file exists
 *   spool                             prints "spooled <path>", then waits (or exits with "exit")
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { REPORT_COLUMNS, writeReport, type ReportRow } from '../../../src/csv/report.js';
import { stdinSpool } from '../../../src/csv/stdin-spool.js';
import { onShutdownSignal } from '../../../src/shutdown.js';

const [mode, arg, how] = process.argv.slice(2);

if (mode === 'report') {
  const out = arg!;
  if (how === 'shutdown') onShutdownSignal();
  async function* rows(): AsyncGenerator<ReportRow> {
    for (let i = 1; ; i++) {
      const row = Object.fromEntries(REPORT_COLUMNS.map((c) => [c, ''])) as ReportRow;
      yield { ...row, row: String(i), login: `jürgen.${i}@example.com`, outcome: 'activated' };
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 2));
      if (i === 2000) {
        const tmp = readdirSync(dirname(out)).find((f) => f.startsWith(`.${basename(out)}.`) && f.endsWith('.tmp'));
        process.stdout.write(`writing ${join(dirname(out), tmp ?? '(none)')}\n`);
      }
    }
  }
  await writeReport(out, rows());
} else if (mode === 'spool') {
  const path = await stdinSpool();
  process.stdout.write(`spooled ${path}\n`);
  if (arg !== 'exit') setInterval(() => {}, 1000);
}
