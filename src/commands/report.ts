/** `bulk-enroll report <runId> --out <file>`: the outcome CSV of a run, complete or partial. */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addRedisOptions, addReportOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program
    .command('report')
    .argument('<runId>', 'the run')
    .description('write the outcome CSV of a run (rows not finished yet are `pending`)')
    .requiredOption('--out <file>', 'where to write the CSV');
  addRedisOptions(cmd);
  addReportOptions(cmd);
  cmd.action(async (runId: string, flags: RawOptions) => {
    await reportCommand(runId, flags);
  });
}

export async function reportCommand(runId: string, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const { ExitError, EXIT } = await import('../errors.js');
  const { writeRunReport } = await import('../runs/report-file.js');
  const { withRunStore, noSuchRun } = await import('./with-store.js');
  const out = io.out ?? process.stdout;
  await withRunStore(flags, io.env, async (store, config) => {
    const meta = await store.getMeta(runId);
    if (!meta) throw new ExitError(EXIT.USAGE, noSuchRun(runId, config.prefix));
    const { rows, sha256 } = await writeRunReport(store, runId, flags.out as string, { bom: Boolean(flags.excel) });
    const c = await store.counts(runId);
    out.write(`${rows} rows written to ${String(flags.out)} (${meta.state === 'finished' ? 'complete' : `partial: ${rows - c.done} pending`}; SHA-256 ${sha256})\n`);
  });
}
