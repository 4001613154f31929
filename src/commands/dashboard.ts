/**
 * `bulk-enroll dashboard [--port 3000]`: bull-board for the queues and a page per run,
 * until SIGINT / SIGTERM. Bound to 127.0.0.1 unless --host says otherwise; then it
 * needs credentials and TLS (or --behind-tls-proxy). Read-only unless --allow-actions.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addCloseTimeoutOption, addLogOptions, addRedisOptions } from './options.js';
import { collectProblems, collectProblemsAsync } from '../errors.js';

export function register(program: Command): void {
  const cmd = program
    .command('dashboard')
    .description('serve a web view of the queues (bull-board) and of each run, with its report to download')
    .option('--port <n>', 'port to listen on (default 3000; 0: any free port)')
    .option('--host <address>', 'address to bind (default 127.0.0.1; anything else needs credentials and TLS)')
    .option('--credentials-file <path>', 'basic-auth credentials, "user:password" on the first line (else env BULK_ENROLL_DASHBOARD_USER / _PASSWORD)')
    .option('--tls-cert <pem>', 'serve HTTPS with this certificate chain (PEM)')
    .option('--tls-key <pem>', 'the private key of --tls-cert (PEM)')
    .option('--behind-tls-proxy', 'plain HTTP: a TLS-terminating proxy fronts this server')
    .option('--allow-actions', 'let the queue view retry, clean, pause and remove jobs (default: read-only)');
  addCloseTimeoutOption(addLogOptions(addRedisOptions(cmd)));
  cmd.action(async (flags: RawOptions) => {
    await dashboardCommand(flags);
  });
}

export async function dashboardCommand(
  flags: RawOptions,
  io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream; stop?: Promise<unknown>; onListening?: (url: string) => void } = {},
): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { loadProcessConfig } = await import('../config.js');
  const { ConfigError } = await import('../errors.js');
  const { createLogger } = await import('../logger.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { loadCredentials, exposureProblems } = await import('../dashboard/access.js');
  const { startDashboard } = await import('../dashboard/server.js');
  const env = io.env ?? process.env;
  const out = io.out ?? process.stdout;

  const problems: string[] = [];
  const warnings: string[] = [];
  const config = collectProblems(problems, () => loadProcessConfig(flags, { env, needOkta: false }));
  let port = 3000;
  if (flags.port !== undefined) {
    port = Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--port: expected a whole number from 0 to 65535, got \`${String(flags.port)}\``);
  }
  const host = typeof flags.host === 'string' && flags.host ? flags.host : '127.0.0.1';
  const creds = loadCredentials({ file: typeof flags.credentialsFile === 'string' ? flags.credentialsFile : undefined, env, warn: (m) => warnings.push(m) });
  problems.push(...creds.problems);
  let tls: { cert: Buffer; key: Buffer } | undefined;
  const certFile = typeof flags.tlsCert === 'string' ? flags.tlsCert : undefined;
  const keyFile = typeof flags.tlsKey === 'string' ? flags.tlsKey : undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) problems.push(`--tls-cert and --tls-key: expected both, got only ${certFile ? '--tls-cert' : '--tls-key'}`);
  else if (certFile && keyFile) {
    const read = (flag: string, file: string): Buffer | undefined => {
      try {
        return readFileSync(file);
      } catch (err) {
        problems.push(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        return undefined;
      }
    };
    const cert = read('--tls-cert', certFile);
    const key = read('--tls-key', keyFile);
    if (cert && key) tls = { cert, key };
  }
  if (!creds.problems.length) {
    problems.push(...exposureProblems({ host, credentials: creds.credentials, tls: Boolean(tls), behindTlsProxy: Boolean(flags.behindTlsProxy) }));
  }
  if (problems.length || !config) throw new ConfigError(problems);

  await ensureRedis(config, { purpose: 'read' });
  const logger = createLogger(config);
  for (const w of warnings) logger.warn(w);
  const shutdown = onShutdownSignal({ closeTimeoutMs: config.closeTimeoutMs, logger });
  let dashboard;
  try {
    dashboard = await startDashboard({
      redisUrl: config.redisUrl,
      redisSettings: config.redis,
      prefix: config.prefix,
      host,
      port,
      ...(creds.credentials ? { credentials: creds.credentials } : {}),
      ...(tls ? { tls } : {}),
      behindTlsProxy: Boolean(flags.behindTlsProxy),
      allowActions: Boolean(flags.allowActions),
      logger,
    });
  } catch (err) {
    shutdown.dispose();
    logger.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ConfigError([`--port ${port}: the port is in use on ${host}; pick another one`]);
    throw err;
  }
  out.write(
    `Dashboard listening on ${dashboard.url} (prefix ${config.prefix}; ${flags.allowActions ? 'actions allowed' : 'read-only'}${creds.credentials ? '; basic auth' : ''})\n`,
  );
  io.onListening?.(dashboard.url);
  await Promise.race([shutdown.requested, ...(io.stop ? [io.stop] : [])]);
  await dashboard.close();
  shutdown.dispose();
  logger.info('dashboard stopped');
  logger.close();
}
