/**
 * The check every command makes before it trusts Redis: a clear answer when Redis
 * is not there (with the reason: refused, TLS, password, Sentinel), and, for the
 * commands that store runs or run workers, the inspection of the server
 * (src/redis/health.ts): refused for an eviction policy that would lose data (exit
 * 2, with the fix), warned about when it shows no persistence.
 */
import type { Redis } from 'ioredis';
import type { ProcessConfig } from '../config.js';
import { EXIT, ExitError, FatalRunError } from '../errors.js';
import { registerSecret } from '../logger.js';
import { createRedis } from '../queue/connection.js';
import { inspectRedis, judgeRedis, type RedisHealth } from '../redis/health.js';
import { describeRedis, redisSecrets, redisSettingsOf, type RedisSettings } from '../redis/settings.js';

export type RedisTarget = Pick<ProcessConfig, 'redis'> & Partial<Pick<ProcessConfig, 'allowEvictionPolicy'>>;

export interface EnsureRedisOptions {
  /** `run` (default for a config): the whole inspection; `read`: reachable is enough (status, report, audit…). */
  purpose?: 'run' | 'read';
  /** Where warnings go (default: stderr). */
  warn?: (message: string) => void;
  timeoutMs?: number;
}

const START_HINT = 'Start one (Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`; or `docker compose up -d redis`) and set REDIS_URL / --redis.';

/** What to tell the operator for a connection that failed this way. */
function hintFor(message: string, settings: RedisSettings): string {
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return 'Redis refused the credentials: check the user and password in REDIS_URL (redis://user:password@host:port)' + (settings.kind === 'sentinel' ? ' and REDIS_SENTINEL_PASSWORD.' : '.');
  }
  const tlsReset = settings.tls !== undefined && /ECONNRESET|EPIPE|socket hang up|secure TLS connection/i.test(message);
  if (tlsReset || /certificate|self[- ]signed|unable to verify|CERT_|SSL|TLS|wrong version number|EPROTO/i.test(message)) {
    return "A TLS problem: give the CA that signed the server's certificate with --redis-ca (REDIS_CA_FILE), a client certificate with --redis-cert and --redis-key when the server asks for one, and use rediss:// only for a TLS port.";
  }
  if (settings.kind === 'sentinel') {
    const first = settings.sentinels[0];
    const ask = first ? `\`redis-cli -h ${first.host} -p ${first.port} SENTINEL get-master-addr-by-name ${settings.masterName}\`` : '';
    return `Check that the Sentinels answer on those addresses and monitor a master named "${settings.masterName}"${ask ? ` (${ask})` : ''}.`;
  }
  return START_HINT;
}

async function connectOnce(settings: RedisSettings, timeoutMs: number): Promise<{ client?: Redis; error?: string }> {
  const client = createRedis(settings, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    lastError = err.message;
  });
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') throw new Error('no PONG');
    return { client };
  } catch (err) {
    client.disconnect();
    return { error: lastError || (err as Error).message };
  }
}

/**
 * Throws FatalRunError when Redis cannot be reached, ExitError(2) when the server
 * must not hold runs; returns what the inspection saw (undefined for `read`).
 */
export async function ensureRedis(target: RedisTarget | string, opts: EnsureRedisOptions = {}): Promise<RedisHealth | undefined> {
  const settings = typeof target === 'string' ? redisSettingsOf(target) : target.redis;
  for (const s of redisSecrets(settings)) registerSecret(s);
  const where = describeRedis(settings);
  const { client, error } = await connectOnce(settings, opts.timeoutMs ?? 3000);
  if (!client) {
    const reason = error ? ` (${error.replace(/redis(s)?:\/\/[^@\s]*@/g, 'redis$1://')})` : '';
    throw new FatalRunError(`Redis is not reachable at ${where}${reason}.`, hintFor(error ?? '', settings));
  }
  try {
    const purpose = opts.purpose ?? (typeof target === 'string' ? 'read' : 'run');
    if (purpose === 'read') return undefined;
    const health = await inspectRedis(client);
    const verdict = judgeRedis(health, where, { allowEvictionPolicy: typeof target === 'string' ? false : Boolean(target.allowEvictionPolicy) });
    if (verdict.refusal) throw new ExitError(EXIT.USAGE, verdict.refusal);
    const warn = opts.warn ?? ((m: string) => process.stderr.write(`Warning: ${m}\n`));
    for (const w of verdict.warnings) warn(w);
    return health;
  } finally {
    client.disconnect();
  }
}
