/**
 * `bulk-enroll resume <runId> --report <out.csv>`: continue a run whose `run` process
 * was interrupted (Ctrl-C, crash, Redis lost), in this process, like `run`.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addProcessOptions, addReportOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program
    .command('resume')
    .argument('<runId>', 'the run to continue')
    .description('continue an interrupted run in this process until every row has an outcome')
    .option('--report <file>', 'where to write the outcome CSV (default reports/<runId>.csv)')
    .option('--strict', 'exit 3 when any row did not end activated')
    .option('--sign-key <pem>', 'sign the run manifest (<report>.manifest.json) with this ed25519 private key (PEM file)');
  addProcessOptions(cmd);
  addReportOptions(cmd);
  cmd.action(async (runId: string, flags: RawOptions) => {
    await resumeCommand(runId, flags);
  });
}

export async function resumeCommand(runId: string, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const startedAt = new Date();
  const { loadProcessConfig } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ExitError, EXIT, ConfigError } = await import('../errors.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { tasks } = await import('../../jobs/index.js');
  const { executeRun } = await import('../runs/execute.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { noSuchRun } = await import('./with-store.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { loadManifestSigningKey } = await import('../runs/manifest.js');
  const { redisManifestOptions } = await import('../redis/health.js');
  const config = loadProcessConfig(flags, { env: io.env });
  const reportTarget = (flags.report as string | undefined) ?? `reports/${runId}.csv`;
  const { checkReportTarget } = await import('../csv/report-target.js');
  const badReport = checkReportTarget(reportTarget);
  if (badReport) throw new ConfigError([`--report: ${badReport}`]);
  // An unreadable key stops here, before the run is touched.
  const signKey = typeof flags.signKey === 'string' ? await loadManifestSigningKey(flags.signKey) : undefined;
  const logger = createLogger(config);
  const redisHealth = await ensureRedis(config, { warn: (m) => logger.warn(m) });
  const shutdown = onShutdownSignal({ closeTimeoutMs: config.closeTimeoutMs, logger });
  const runtime = await startRuntime({ config, logger, tasks, closeTimeoutMs: shutdown.jobGraceMs });
  try {
    const meta = await runtime.store.getMeta(runId);
    if (!meta) throw new ExitError(EXIT.USAGE, noSuchRun(runId, config.prefix));
    if (meta.state === 'enqueuing') {
      throw new ExitError(EXIT.USAGE, `Run ${runId} was interrupted while its file was being stored; start it again with \`bulk-enroll run ${meta.file ?? '<csv>'} --run-id ${runId}\`.`);
    }
    if (meta.state === 'cancelled') throw new ExitError(EXIT.USAGE, `Run ${runId} was cancelled${meta.stateReason ? ` (${meta.stateReason})` : ''}; it cannot be resumed. \`bulk-enroll report ${runId} --out <file>\` writes its report.`);
    if (meta.state === 'stopped' || meta.state === 'paused') {
      // Reactivate it, and hand back at once the rows whose jobs ended while it was not active.
      await runtime.store.setState(runId, 'active', '');
      logger.info(`run ${runId} was ${meta.state}${meta.stateReason ? ` (${meta.stateReason})` : ''}; resuming it`, { runId });
      await runtime.reconcileNow({ immediate: true, runId });
    }
    const reportPath = (flags.report as string | undefined) ?? `reports/${runId}.csv`;
    await executeRun({
      config,
      logger,
      runId,
      reportPath,
      strict: Boolean(flags.strict),
      stopRequested: shutdown.requested,
      runtime,
      out: io.out,
      excel: Boolean(flags.excel),
      manifest: { command: 'resume', options: { ...flags, ...redisManifestOptions(redisHealth, config.allowEvictionPolicy) }, startedAt, ...(signKey ? { signKey } : {}) },
    });
  } finally {
    await runtime.close();
    shutdown.dispose();
    logger.close();
  }
}
