/**
 * `bulk-enroll demo` (npm run demo): the main job on an embedded default. Starts the
 * Okta simulator in this process with the sample directory (most users scan after a
 * few seconds, some never do), gets a Redis (REDIS_URL when reachable, else a private
 * redis-server on a free port, stopped afterwards), runs samples/users.csv with live
 * progress, writes reports/demo-report.csv and prints the summary.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run samples/users.csv against the built-in Okta simulator and a private Redis')
    .option('--report <file>', 'where to write the outcome CSV', 'reports/demo-report.csv')
    .option('--input <csv>', 'input CSV', 'samples/users.csv')
    .option('--directory <csv>', "the simulated Okta directory (users, their scan behaviour)", 'samples/directory.csv')
    .option('--dialect <name>', 'simulated Okta API: okta (today) or seed (the older Factors document)', 'okta')
    .option('--activation-ttl-ms <ms>', 'simulated activation lifetime (Okta: 600000)', '8000')
    .option('--log-level <level>', 'error | warn | info | verbose | debug', 'warn')
    .action(async (flags: RawOptions) => {
      await demoCommand(flags);
    });
}

export async function demoCommand(flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const { randomBytes } = await import('node:crypto');
  const { existsSync } = await import('node:fs');
  const { startSimulator } = await import('../simulator/index.js');
  const { redisReachable, startLocalRedis, RedisServerNotFoundError } = await import('../redis/local-redis.js');
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ExitError, EXIT, FatalRunError } = await import('../errors.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { tasks } = await import('../../jobs/index.js');
  const { ingestCsv } = await import('../runs/ingest.js');
  const { executeRun } = await import('../runs/execute.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { Redis } = await import('ioredis');
  const env = io.env ?? process.env;
  const out = io.out ?? process.stdout;

  const input = String(flags.input ?? 'samples/users.csv');
  const directory = String(flags.directory ?? 'samples/directory.csv');
  for (const f of [input, directory]) {
    if (!existsSync(f)) throw new ExitError(EXIT.USAGE, `${f} not found: run the demo from the project folder (where package.json is).`);
  }
  const ttl = Number(flags.activationTtlMs ?? 8000);
  if (!Number.isInteger(ttl) || ttl < 500) throw new ExitError(EXIT.USAGE, `--activation-ttl-ms: expected a whole number from 500, got \`${String(flags.activationTtlMs)}\``);

  // Redis: REDIS_URL when reachable, else a private one.
  let redisUrl = env.REDIS_URL;
  let localRedis: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
  if (!redisUrl || !(await redisReachable(redisUrl))) {
    if (redisUrl) out.write(`REDIS_URL ${redisUrl} is not reachable; starting a private redis-server instead.\n`);
    try {
      localRedis = await startLocalRedis();
      redisUrl = localRedis.url;
    } catch (err) {
      if (err instanceof RedisServerNotFoundError) throw new FatalRunError('The demo needs Redis.', err.message);
      throw err;
    }
  }

  const token = `demo-${randomBytes(12).toString('hex')}`;
  const sim = await startSimulator({
    dialect: flags.dialect === 'seed' ? 'seed' : 'okta',
    usersCsv: directory,
    activationTtlMs: ttl,
    rateLimit: 1200,
    rateWindowMs: 60_000,
    token,
    seed: 7,
  });
  const prefix = `bulk-enroll-demo-${randomBytes(3).toString('hex')}`;
  const logger = createLogger({ level: String(flags.logLevel ?? 'warn') });
  const shutdown = onShutdownSignal();
  let runtime: Awaited<ReturnType<typeof startRuntime>> | undefined;
  try {
    out.write(`Okta simulator (${flags.dialect === 'seed' ? 'seed' : 'okta'} dialect) at ${sim.url}; Redis at ${redisUrl}${localRedis ? ' (private)' : ''}\n`);
    const config = loadProcessConfig(
      { orgUrl: sim.url, redis: redisUrl, prefix, rateLimit: 1100, usersRateLimit: 1100, maxConcurrent: 20, concurrency: 50 },
      { env: { OKTA_API_TOKEN: token } },
    );
    const settings = loadRunSettings({}, {});
    runtime = await startRuntime({ config, logger, tasks, reconcileIntervalMs: 5000 });
    const { runId, summary } = await ingestCsv(runtime.store, input, settings, { command: 'demo' });
    out.write(`Enrolling ${summary.rows} rows from ${input} (run ${runId}); simulated users scan their QR code after a few seconds, some never do (activation lifetime ${ttl / 1000} s).\n`);
    await executeRun({ config, logger, runId, reportPath: String(flags.report ?? 'reports/demo-report.csv'), stopRequested: shutdown.requested, runtime, out });
    const stats = sim.stats();
    out.write(`Simulator: ${stats.requests.total} API calls, ${stats.rateLimited} answered 429, ${stats.duplicateEnrollments} users with duplicate factors.\n`);
  } finally {
    await runtime?.close();
    shutdown.dispose();
    logger.close();
    await sim.close();
    if (localRedis) await localRedis.stop();
    else if (redisUrl) {
      // A shared Redis: remove only the demo's own keys.
      const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await r.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    }
  }
}
