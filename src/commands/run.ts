/**
 * `bulk-enroll run <csv> --report <out.csv>`: the one-shot job. Validates the file,
 * stores its rows in Redis, runs workers in this process until every row has an
 * outcome, writes the report and prints the summary.
 */
import type { Command } from 'commander';
import { addFilterOptions, addProcessOptions, addRunSettingOptions } from './options.js';
import type { RawOptions } from '../config.js';
import { ConfigError as ConfigErrorClass } from '../errors.js';

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .argument('<csv>', 'input CSV (userId or login, factorType, provider, deviceType, deviceName, phoneNumber, email)')
    .description('enroll every row of a CSV and wait for each user to activate or expire; write the outcome report')
    .requiredOption('--report <file>', 'where to write the outcome CSV')
    .option('--strict', 'exit 3 when any row did not end activated (for cron alerting)')
    .option('--run-id <id>', 'continue this run instead of starting a new one (the file must be the same)')
    .option('--sign-key <pem>', 'sign the run manifest (<report>.manifest.json) with this ed25519 private key (PEM file)');
  addProcessOptions(cmd);
  addRunSettingOptions(cmd);
  addFilterOptions(cmd);
  cmd.action(async (csv: string, flags: RawOptions) => {
    await runCommand(csv, flags);
  });
}

export async function runCommand(csv: string, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const startedAt = new Date();
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ConfigError, ExitError, EXIT } = await import('../errors.js');
  const { parseFilterFlags } = await import('../csv/filters.js');
  const { inspectInput } = await import('../csv/read-input.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { ingestCsv } = await import('../runs/ingest.js');
  const { executeRun } = await import('../runs/execute.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { loadSigningKey } = await import('../runs/manifest.js');

  const problems: string[] = [];
  const warnings: string[] = [];
  let config, settings;
  try {
    config = loadProcessConfig(flags, { env: io.env, warn: (m) => warnings.push(m) });
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.problems);
    else throw e;
  }
  try {
    settings = loadRunSettings(flags, io.env);
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.problems);
    else throw e;
  }
  let readOptions;
  try {
    readOptions = readOptionsFromFlags(flags, parseFilterFlags);
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.problems);
    else throw e;
  }
  let signKey;
  if (typeof flags.signKey === 'string') {
    try {
      signKey = await loadSigningKey(flags.signKey);
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (problems.length || !config || !settings) throw new ConfigError(problems);
  const logger = createLogger({ level: config.logLevel, file: config.logFile ?? 'logs/bulk-enroll.log' });
  for (const w of warnings) logger.warn(w);

  // File-level problems stop here, before anything touches Redis.
  await inspectInput(csv, readOptions);
  await ensureRedis(config.redisUrl);

  const shutdown = onShutdownSignal();
  const runtime = await startRuntime({ config, logger });
  try {
    let runId = flags.runId as string | undefined;
    if (runId) {
      const meta = await runtime.store.getMeta(runId);
      const summary = await inspectInput(csv, readOptions);
      if (!meta || meta.state === 'enqueuing') {
        await ingestCsv(runtime.store, csv, settings, { readOptions, runId, command: 'run' });
      } else if (meta.sha256 !== summary.sha256) {
        throw new ExitError(EXIT.USAGE, `--run-id ${runId} belongs to a different file (SHA-256 ${meta.sha256?.slice(0, 12)}…, this file ${summary.sha256.slice(0, 12)}…)`);
      }
    } else {
      runId = (await ingestCsv(runtime.store, csv, settings, { readOptions, command: 'run' })).runId;
    }
    logger.info(`run ${runId} started`, { runId, file: csv });
    await executeRun({
      config,
      logger,
      runId,
      reportPath: flags.report as string,
      strict: Boolean(flags.strict),
      stopRequested: shutdown.requested,
      runtime,
      out: io.out,
      manifest: { command: 'run', options: flags, startedAt, ...(signKey ? { signKey } : {}) },
    });
  } finally {
    await runtime.close();
    shutdown.dispose();
    logger.close();
  }
}

export function readOptionsFromFlags(
  flags: RawOptions,
  parseFilterFlags: (v: readonly string[], flag: string) => Array<{ column: string; regex: RegExp }>,
): { match?: Array<{ column: string; regex: RegExp }>; skip?: Array<{ column: string; regex: RegExp }>; maxRows?: number } {
  const out: { match?: Array<{ column: string; regex: RegExp }>; skip?: Array<{ column: string; regex: RegExp }>; maxRows?: number } = {};
  if (Array.isArray(flags.match) && flags.match.length) out.match = parseFilterFlags(flags.match as string[], '--match');
  if (Array.isArray(flags.skip) && flags.skip.length) out.skip = parseFilterFlags(flags.skip as string[], '--skip');
  if (flags.maxRows !== undefined) {
    const n = Number(flags.maxRows);
    if (!Number.isInteger(n) || n < 1) throw new ConfigErrorClass([`--max-rows: expected a whole number from 1, got \`${String(flags.maxRows)}\``]);
    out.maxRows = n;
  }
  return out;
}
