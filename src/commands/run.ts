/**
 * `bulk-enroll run <csv> --report <out.csv>`: the one-shot job. Validates the file,
 * stores its rows in Redis, runs workers in this process until every row has an
 * outcome, writes the report and prints the summary.
 *
 * `run --group <id>` / `--group-name <name>`: the members of an Okta group instead of a
 * CSV (src/runs/ingest-group.ts). `run --dry-run`: the plan per row, nothing changed in
 * Okta (src/runs/plan.ts).
 */
import type { Command } from 'commander';
import { addFilterOptions, addMetricsOptions, addProcessOptions, addReportOptions, addRunSettingOptions } from './options.js';
import type { RawOptions } from '../config.js';
import { ConfigError as ConfigErrorClass } from '../errors.js';
import { collectProblems, collectProblemsAsync } from '../errors.js';
import { parseDelimiterFlag } from '../csv/delimiter.js';

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .argument('[csv]', 'input CSV (userId or login, factorType, provider, deviceType, deviceName, phoneNumber, email; - reads standard input); or use --group')
    .description('enroll every row of a CSV and wait for each user to activate or expire; write the outcome report')
    .requiredOption('--report <file>', 'where to write the outcome CSV')
    .option('--strict', 'exit 3 when any row did not end activated (for cron alerting)')
    .option('--run-id <id>', 'continue this run instead of starting a new one (the file must be the same)')
    .option('--sign-key <pem>', 'sign the run manifest (<report>.manifest.json) with this ed25519 private key (PEM file)')
    .option('--group <groupId>', 'enroll every member of this Okta group (push, OKTA) instead of a CSV')
    .option('--group-name <name>', 'like --group, naming the group by its exact name')
    .option('--page-size <n>', 'group members per page, 1 to 200 (default 200)')
    .option('--dry-run', 'change nothing in Okta: read each user and their factors and write the planned action per row')
    .option('--plan <file>', 'with --dry-run: where to write the plan CSV (default <report>.plan.csv)');
  addProcessOptions(cmd);
  addMetricsOptions(cmd);
  addRunSettingOptions(cmd);
  addFilterOptions(cmd);
  addReportOptions(cmd);
  cmd.action(async (csv: string, flags: RawOptions) => {
    await runCommand(csv, flags);
  });
}

export async function runCommand(csv: string | undefined, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const startedAt = new Date();
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ConfigError, ExitError, EXIT } = await import('../errors.js');
  const { parseFilterFlags } = await import('../csv/filters.js');
  const { inspectInput } = await import('../csv/read-input.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { tasks } = await import('../../jobs/index.js');
  const { ingestCsv } = await import('../runs/ingest.js');
  const { executeRun } = await import('../runs/execute.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { loadManifestSigningKey } = await import('../runs/manifest.js');
  const { startObservability } = await import('../metrics/index.js');
  const { redisManifestOptions } = await import('../redis/health.js');
  const { storeWithinMemory } = await import('../redis/partial-run.js');
  const { describeRedis } = await import('../redis/settings.js');

  const problems: string[] = [];
  const warnings: string[] = [];
  const config = collectProblems(problems, () => loadProcessConfig(flags, { env: io.env, warn: (m) => warnings.push(m) }));
  const settings = collectProblems(problems, () => loadRunSettings(flags, io.env));
  const readOptions = collectProblems(problems, () => readOptionsFromFlags(flags, parseFilterFlags));
  let signKey;
  if (typeof flags.signKey === 'string') {
    signKey = await collectProblemsAsync(problems, () => loadManifestSigningKey(flags.signKey as string));
  }
  const group = typeof flags.group === 'string' ? flags.group.trim() : undefined;
  const groupName = typeof flags.groupName === 'string' ? flags.groupName : undefined;
  const sources = [csv !== undefined, group !== undefined, groupName !== undefined].filter(Boolean).length;
  if (sources !== 1) {
    problems.push(
      `<csv>, --group, --group-name: expected exactly one input, got ${sources === 0 ? 'none' : [csv !== undefined ? csv : '', group !== undefined ? `--group ${group}` : '', groupName !== undefined ? `--group-name ${JSON.stringify(groupName)}` : ''].filter(Boolean).join(' and ')}`,
    );
  }
  let pageSize: number | undefined;
  if (flags.pageSize !== undefined) {
    pageSize = Number(flags.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 200) problems.push(`--page-size: expected a whole number from 1 to 200, got \`${String(flags.pageSize)}\``);
  }
  if (flags.plan !== undefined && !flags.dryRun) problems.push('--plan: only used with --dry-run');
  if (!flags.dryRun && typeof flags.report === 'string') {
    // A report that cannot be written is found now, before anyone is enrolled.
    const { checkReportTarget } = await import('../csv/report-target.js');
    const bad = checkReportTarget(flags.report);
    if (bad) problems.push(`--report: ${bad}`);
  }
  if (flags.dryRun && flags.runId !== undefined) problems.push('--dry-run and --run-id: a dry run does not create or continue a run');
  if (problems.length || !config || !settings) throw new ConfigError(problems);
  if (csv === undefined) {
    const { checkGroupInput } = await import('../runs/ingest-group.js');
    checkGroupInput(group, { ...readOptions, ...(pageSize !== undefined ? { pageSize } : {}) });
  }
  if (flags.dryRun) {
    const { dryRun } = await import('./run-dry.js');
    await dryRun({ csv, group, groupName, pageSize, readOptions: readOptions ?? {}, config, flags, out: io.out ?? process.stdout, warnings });
    return;
  }
  const logger = createLogger(config);
  for (const w of warnings) logger.warn(w);

  // File-level problems stop here, before anything touches Redis.
  let inspected: Awaited<ReturnType<typeof inspectInput>> | undefined;
  if (csv !== undefined) {
    const { columnNotes, delimiterNote } = await import('../csv/input-notes.js');
    const { inputLabel } = await import('../csv/stdin-spool.js');
    inspected = await inspectInput(csv, { ...readOptions, countDuplicates: false });
    logger.info(`input ${inputLabel(csv)}: ${inspected.rows} rows; ${[delimiterNote(inspected), ...columnNotes(inspected)].join('; ')}`);
  }
  const redisHealth = await ensureRedis(config, { warn: (m) => logger.warn(m) });

  const obs = await startObservability(config, logger, io.env);
  const shutdown = onShutdownSignal({ closeTimeoutMs: config.closeTimeoutMs, logger });
  const runtime = await startRuntime({ config, logger, tasks, closeTimeoutMs: shutdown.jobGraceMs, telemetry: obs.telemetry }).catch(async (err: unknown) => {
    await obs.close();
    throw err;
  });
  obs.attach(runtime, () => shutdown.stopping);
  try {
    let runId = flags.runId as string | undefined;
    if (csv === undefined) {
      runId = await ingestGroupInput(runtime, { group, groupName, pageSize, readOptions: readOptions ?? {}, runId, settings, logger });
    } else if (runId) {
      const meta = await runtime.store.getMeta(runId);
      const summary = await inspectInput(csv, { ...readOptions, countDuplicates: false });
      if (!meta || meta.state === 'enqueuing') {
        await ingestCsv(runtime.store, csv, settings, { readOptions, runId, command: 'run' });
      } else if (meta.sha256 !== summary.sha256) {
        throw new ExitError(EXIT.USAGE, `--run-id ${runId} belongs to a different file (SHA-256 ${meta.sha256?.slice(0, 12)}…, this file ${summary.sha256.slice(0, 12)}…)`);
      } else if (meta.state === 'cancelled') {
        throw new ExitError(EXIT.USAGE, `Run ${runId} was cancelled${meta.stateReason ? ` (${meta.stateReason})` : ''}; start a new run instead of --run-id.`);
      } else if (meta.state === 'stopped' || meta.state === 'paused') {
        await runtime.store.setState(runId, 'active', '');
        await runtime.reconcileNow({ immediate: true, runId });
      }
    } else {
      // A full Redis gets a few seconds, then one error saying memory.
      const where = describeRedis(config.redis);
      runId = (await storeWithinMemory(runtime.store, { where, sha256: inspected?.sha256, graceMs: config.redisOomGraceMs }, (id) => ingestCsv(runtime.store, csv, settings, { readOptions, runId: id, command: 'run' }))).runId;
    }
    logger.info(`run ${runId} started`, { runId, ...(csv !== undefined ? { file: csv } : { group: group ?? groupName }) });
    await executeRun({
      config,
      logger,
      runId,
      reportPath: flags.report as string,
      strict: Boolean(flags.strict),
      stopRequested: shutdown.requested,
      runtime,
      out: io.out,
      excel: Boolean(flags.excel),
      manifest: { command: 'run', options: { ...flags, ...redisManifestOptions(redisHealth, config.allowEvictionPolicy) }, startedAt, ...(signKey ? { signKey } : {}) },
    });
  } finally {
    await runtime.close();
    await obs.close();
    shutdown.dispose();
    logger.close();
  }
}

export function readOptionsFromFlags(
  flags: RawOptions,
  parseFilterFlags: (v: readonly string[], flag: string) => Array<{ column: string; regex: RegExp }>,
): import('../csv/read-input.js').ReadInputOptions {
  const out: import('../csv/read-input.js').ReadInputOptions = {};
  if (Array.isArray(flags.match) && flags.match.length) out.match = parseFilterFlags(flags.match as string[], '--match');
  if (Array.isArray(flags.skip) && flags.skip.length) out.skip = parseFilterFlags(flags.skip as string[], '--skip');
  if (flags.maxRows !== undefined) {
    const n = Number(flags.maxRows);
    if (!Number.isInteger(n) || n < 1) throw new ConfigErrorClass([`--max-rows: expected a whole number from 1, got \`${String(flags.maxRows)}\``]);
    out.maxRows = n;
  }
  if (flags.allowUnknownColumns) out.allowUnknownColumns = true;
  if (typeof flags.delimiter === 'string') out.delimiter = parseDelimiterFlag(flags.delimiter);
  return out;
}

/** --group / --group-name: resolve the group and read its members into a run (or continue --run-id). */
async function ingestGroupInput(
  runtime: import('../queue/runtime.js').Runtime,
  o: {
    group?: string;
    groupName?: string;
    pageSize?: number;
    readOptions: ReturnType<typeof readOptionsFromFlags>;
    runId?: string;
    settings: import('../config.js').RunSettings;
    logger: import('../logger.js').Logger;
  },
): Promise<string> {
  const { ingestGroup, resolveGroupName } = await import('../runs/ingest-group.js');
  const { oktaFatalOf } = await import('./run-dry.js');
  if (o.runId && (await runtime.store.getMeta(o.runId))) return o.runId; // continue it as stored
  const okta = runtime.okta!;
  try {
    const group = o.groupName !== undefined ? await resolveGroupName(okta, o.groupName) : { id: o.group! };
    const r = await ingestGroup(runtime.store, okta, group, o.settings, {
      ...o.readOptions,
      ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
      ...(o.runId ? { runId: o.runId } : {}),
      command: 'run',
      onPage: (pages, members) => o.logger.verbose(`group ${group.id}: page ${pages} read, ${members} members so far`),
    });
    o.logger.info(`group ${group.id}: ${r.members} members in ${r.pages} pages, ${r.rows} rows in run ${r.runId}`);
    return r.runId;
  } catch (err) {
    throw await oktaFatalOf(err);
  }
}
