/**
 * `bulk-enroll worker`: process enroll and poll jobs of every run until SIGINT /
 * SIGTERM. Start any number, on any number of machines, against one Redis: they share
 * one rate budget per Okta bucket. Each also runs the scheduled nightly re-enrollments
 * (`bulk-enroll schedule`) that come due.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addMetricsOptions, addProcessOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program.command('worker').description('run enroll and poll workers until stopped (SIGINT / SIGTERM)');
  addProcessOptions(cmd);
  addMetricsOptions(cmd);
  cmd.action(async (flags: RawOptions) => {
    await workerCommand(flags);
  });
}

export async function workerCommand(flags: RawOptions, io: { env?: NodeJS.ProcessEnv; stop?: Promise<unknown> } = {}): Promise<void> {
  const { loadProcessConfig } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { FatalRunError } = await import('../errors.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { tasks } = await import('../../jobs/index.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { startObservability } = await import('../metrics/index.js');
  const warnings: string[] = [];
  const config = loadProcessConfig(flags, { env: io.env, warn: (m) => warnings.push(m) });
  const logger = createLogger(config);
  for (const w of warnings) logger.warn(w);
  await ensureRedis(config, { warn: (m) => logger.warn(m) });
  const obs = await startObservability(config, logger, io.env);
  const shutdown = onShutdownSignal({ closeTimeoutMs: config.closeTimeoutMs, logger });
  const runtime = await startRuntime({ config, logger, tasks, closeTimeoutMs: shutdown.jobGraceMs, control: true, telemetry: obs.telemetry }).catch(async (err: unknown) => {
    await obs.close();
    throw err;
  });
  obs.attach(runtime, () => shutdown.stopping);
  logger.info('worker started', { pid: process.pid, prefix: config.prefix, concurrency: config.concurrency, rateLimit: config.rateLimit });
  const fatal = await Promise.race([shutdown.requested.then(() => undefined), runtime.fatal, ...(io.stop ? [io.stop.then(() => undefined)] : [])]);
  await runtime.close();
  await obs.close();
  shutdown.dispose();
  logger.info('worker stopped', { pid: process.pid });
  logger.close();
  if (fatal instanceof Error) throw fatal instanceof FatalRunError ? fatal : new FatalRunError(fatal.message);
}
