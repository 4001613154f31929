/**
 * `bulk-enroll enqueue <csv>`: validate the whole file (count, SHA-256; a file-level
 * problem stops before anything is enqueued), store its rows durably in Redis for a
 * new run, print the run id as the last line of stdout. Workers take it from there.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addFilterOptions, addRedisOptions, addRunSettingOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program
    .command('enqueue')
    .argument('<csv>', 'input CSV (- reads standard input)')
    .description('validate a CSV and queue it as a run for `bulk-enroll worker` processes; prints the run id');
  addRedisOptions(cmd);
  addRunSettingOptions(cmd);
  addFilterOptions(cmd);
  cmd.action(async (csv: string, flags: RawOptions) => {
    (await import('../lean-memory.js')).preferSmallHeap(); // a streaming pass: keep the heap small
    await enqueueCommand(csv, flags);
  });
}

export async function enqueueCommand(csv: string, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<string> {
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { ConfigError, collectProblems } = await import('../errors.js');
  const { parseFilterFlags } = await import('../csv/filters.js');
  const { inspectInput } = await import('../csv/read-input.js');
  const { ingestCsv } = await import('../runs/ingest.js');
  const { RunStore } = await import('../runs/store.js');
  const { createRedis } = await import('../queue/connection.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { storeWithinMemory } = await import('../redis/partial-run.js');
  const { describeRedis } = await import('../redis/settings.js');
  const { readOptionsFromFlags } = await import('./run.js');
  const out = io.out ?? process.stdout;

  const problems: string[] = [];
  const collect = <T>(f: () => T): T | undefined => collectProblems(problems, f);
  const config = collect(() => loadProcessConfig(flags, { env: io.env, needOkta: false }));
  const settings = collect(() => loadRunSettings(flags, io.env));
  const readOptions = collect(() => readOptionsFromFlags(flags, parseFilterFlags));
  if (problems.length || !config || !settings) throw new ConfigError(problems);

  const summary = await inspectInput(csv, { ...readOptions, countDuplicates: false });
  await ensureRedis(config);
  const redis = createRedis(config.redis);
  try {
    const store = new RunStore(redis, config.prefix);
    // A full Redis gets a few seconds, then one error saying memory; never "queued".
    const { runId } = await storeWithinMemory(store, { where: describeRedis(config.redis), sha256: summary.sha256, graceMs: config.redisOomGraceMs }, (id) =>
      ingestCsv(store, csv, settings, { readOptions, runId: id, command: 'enqueue' }),
    );
    out.write(`${summary.rows} rows (${summary.invalidCount} invalid) queued from ${csv} (SHA-256 ${summary.sha256})\n`);
    out.write(`${runId}\n`);
    return runId;
  } finally {
    redis.disconnect();
  }
}
