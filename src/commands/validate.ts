/**
 * `bulk-enroll validate <csv>` (`-`: standard input): pre-flight without any network
 * call. Prints the counts, how the file was read (delimiter, columns read and ignored)
 * and every row that would fail (row number and reason).
 * Exit 0: every row valid; 1: some rows invalid or duplicate; 2: the file itself is
 * unusable (InputFileError, printed by src/cli.ts) or a flag is wrong.
 */
import type { Command } from 'commander';
import { addFilterOptions } from './options.js';

export { parseFilterFlags } from '../csv/filters.js';

/** Rows listed in the human-readable output before "… and N more". */
export const LISTING_CAP = 100;

export interface ValidateFlags {
  json?: boolean;
  match?: string[];
  skip?: string[];
  maxRows?: string;
  allowUnknownColumns?: boolean;
  delimiter?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .argument('<csv>', 'input CSV to check (- reads standard input)')
    .description('check an input CSV without any network call: exit 0 all rows valid, 1 some rows invalid or duplicate, 2 file unusable')
    .option('--json', 'print the summary as JSON');
  addFilterOptions(cmd);
  cmd.action(async (csv: string, flags: ValidateFlags) => {
    (await import('../lean-memory.js')).preferSmallHeap(); // a streaming pass: keep the heap small
    await validateCommand(csv, flags);
  });
}

export async function validateCommand(
  csv: string,
  flags: ValidateFlags,
  io: { out?: NodeJS.WritableStream } = {},
): Promise<void> {
  const { ConfigError, ExitError, collectProblems } = await import('../errors.js');
  const { parseFilterFlags } = await import('../csv/filters.js');
  const { inspectInput } = await import('../csv/read-input.js');
  const { parseDelimiterFlag } = await import('../csv/delimiter.js');
  const { columnNotes, delimiterNote } = await import('../csv/input-notes.js');
  const { inputLabel } = await import('../csv/stdin-spool.js');
  const out = io.out ?? process.stdout;

  const problems: string[] = [];
  const opts: import('../csv/read-input.js').ReadInputOptions = {};
  for (const [flag, values, key] of [
    ['--match', flags.match, 'match'],
    ['--skip', flags.skip, 'skip'],
  ] as const) {
    if (!values?.length) continue;
    try {
      opts[key] = parseFilterFlags(values, flag);
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (flags.maxRows !== undefined) {
    const n = Number(flags.maxRows);
    if (!/^\d+$/.test(String(flags.maxRows).trim()) || !Number.isSafeInteger(n) || n < 1) {
      problems.push(`--max-rows: expected a whole number >= 1, got ${JSON.stringify(flags.maxRows)}`);
    } else opts.maxRows = n;
  }
  if (flags.allowUnknownColumns) opts.allowUnknownColumns = true;
  if (flags.delimiter !== undefined) {
    const delimiter = collectProblems(problems, () => parseDelimiterFlag(flags.delimiter!));
    if (delimiter) opts.delimiter = delimiter;
  }
  if (problems.length) throw new ConfigError(problems);

  const summary = await inspectInput(csv, opts);
  const failing = [
    ...summary.invalid.map((r) => ({ row: r.row, code: r.errorCode, reason: r.reason })),
    ...summary.duplicates.map((r) => ({ row: r.row, code: r.errorCode, reason: r.reason })),
  ].sort((a, b) => a.row - b.row);
  const failCount = summary.invalidCount + summary.duplicateCount;

  if (flags.json) {
    out.write(`${JSON.stringify({ ok: failCount === 0, ...summary }, null, 2)}\n`);
  } else {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    out.write(
      `${inputLabel(csv)}: ${plural(summary.rows, 'row')}: ${summary.valid} valid, ${summary.invalidCount} invalid, ` +
        `${plural(summary.duplicateCount, 'duplicate')}\n`,
    );
    out.write(`  columns: ${summary.columns.join(', ')}; ${delimiterNote(summary)}; ${summary.bytes} bytes; SHA-256 ${summary.sha256}\n`);
    for (const note of columnNotes(summary)) out.write(`  ${note}\n`);
    if (summary.skipped) out.write(`  ${plural(summary.skipped, 'row')} left out by --match / --skip\n`);
    if (failCount === 0) {
      out.write(`All ${plural(summary.rows, 'row')} valid.\n`);
    } else {
      out.write(`Rows that would fail:\n`);
      for (const f of failing.slice(0, LISTING_CAP)) out.write(`  row ${f.row}: ${f.code}: ${f.reason}\n`);
      const listed = Math.min(failing.length, LISTING_CAP);
      if (failCount > listed) out.write(`  … and ${failCount - listed} more\n`);
    }
  }
  if (failCount > 0) throw new ExitError(1, '');
}
