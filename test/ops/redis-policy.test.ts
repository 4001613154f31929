/**
 * The Redis a migration is about to trust, inspected at start: the verdict's rules
 * on their own (eviction policies, persistence, replicas, versions), the settings for
 * TLS and Sentinel as flags give them, then real redis-servers (started by each test)
 * configured as production Redis sometimes is: allkeys-lru refused with the fix,
 * volatile-lru refused unless accepted (and then recorded in the run's manifest),
 * CONFIG blocked as on managed services.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadProcessConfig } from '../../src/config.js';
import { ExitError } from '../../src/errors.js';
import { enqueueCommand } from '../../src/commands/enqueue.js';
import { runCommand } from '../../src/commands/run.js';
import { ensureRedis } from '../../src/commands/redis-check.js';
import { createRedis } from '../../src/queue/connection.js';
import { judgeRedis, parseInfo, type RedisHealth } from '../../src/redis/health.js';
import { parseRedisSettings, describeRedis } from '../../src/redis/settings.js';
import { isOomError } from '../../src/redis/oom.js';
import { startSimulator } from '../../src/simulator/index.js';
import { buildScenario } from '../helpers/scenario.js';
import { useRedisServers } from '../helpers/redis-server.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const healthy: RedisHealth = {
  server: 'redis',
  version: '7.2.4',
  mode: 'standalone',
  runId: 'abc',
  role: 'master',
  maxmemory: 12 * 1024 * 1024,
  maxmemoryPolicy: 'noeviction',
  usedMemory: 3 * 1024 * 1024,
  evictedKeys: 0,
  persistence: { aof: true, rdb: 'off', savePoints: '' },
  configReadable: true,
};
const with_ = (o: Partial<RedisHealth>): RedisHealth => ({ ...healthy, ...o });

describe('the verdict on a Redis', () => {
  it('refuses allkeys-*, refuses volatile-* unless accepted, warns about what a restart would lose', () => {
    expect(judgeRedis(healthy, 'redis://r')).toEqual({ warnings: [] });

    const allkeys = judgeRedis(with_({ maxmemoryPolicy: 'allkeys-lru' }), 'redis://r', { allowEvictionPolicy: true });
    expect(allkeys.refusal).toContain('maxmemory-policy allkeys-lru, maxmemory 12 MB');
    expect(allkeys.refusal).toContain('`redis-cli CONFIG SET maxmemory-policy noeviction`');
    expect(allkeys.refusal).toContain('parameter group');

    const volatile = judgeRedis(with_({ maxmemoryPolicy: 'volatile-lru' }), 'redis://r');
    expect(volatile.refusal).toMatch(/job locks and the rate limiter's keys, the first to go/);
    expect(volatile.refusal).toContain('--allow-eviction-policy');
    const accepted = judgeRedis(with_({ maxmemoryPolicy: 'volatile-ttl' }), 'redis://r', { allowEvictionPolicy: true });
    expect(accepted.refusal).toBeUndefined();
    expect(accepted.warnings.join()).toMatch(/volatile-ttl.*Accepted with --allow-eviction-policy/);

    const bare = judgeRedis(with_({ persistence: { aof: false, rdb: 'off', savePoints: '' } }), 'redis://r');
    expect(bare.refusal).toBeUndefined();
    expect(bare.warnings.join()).toMatch(/shows no persistence \(appendonly no, and save "": no RDB snapshots\): if it restarts, every run's stored rows and outcomes are lost/);
    const managed = judgeRedis(with_({ configReadable: false, persistence: { aof: false, rdb: 'unknown' } }), 'redis://r');
    expect(managed.refusal).toBeUndefined();
    expect(managed.warnings.join()).toMatch(/CONFIG is not available to say more \(managed services/);
    expect(judgeRedis(with_({ persistence: { aof: false, rdb: 'on', savePoints: '3600 1' } }), 'redis://r').warnings).toEqual([]);
    expect(judgeRedis(with_({ persistence: { aof: true, rdb: 'off', failing: 'AOF writes are failing (aof_last_write_status:err)' } }), 'redis://r').warnings.join()).toMatch(/AOF writes are failing/);
  });

  it('refuses a replica, a cluster node and a Redis older than BullMQ allows', () => {
    expect(judgeRedis(with_({ role: 'slave' }), 'redis://r').refusal).toMatch(/is a replica \(role:slave\).*--redis-sentinels/);
    expect(judgeRedis(with_({ mode: 'cluster' }), 'redis://r').refusal).toMatch(/Redis Cluster node.*does not support Redis Cluster yet/);
    expect(judgeRedis(with_({ version: '4.0.14' }), 'redis://r').refusal).toMatch(/version 4\.0\.14; BullMQ needs Redis 5\.0 or later/);
    expect(judgeRedis(with_({ version: '6.0.16' }), 'redis://r').warnings.join()).toMatch(/BullMQ recommends 6\.2 or later/);
    expect(judgeRedis(with_({ maxmemoryPolicy: undefined }), 'redis://r').warnings.join()).toMatch(/does not show its maxmemory-policy/);
  });

  it('reads INFO text and knows an OOM answer, also inside a discarded transaction', () => {
    const info = parseInfo('# Memory\r\nused_memory:1024\r\nmaxmemory_policy:noeviction\r\n\r\n# Server\r\nrun_id:ff00\r\n');
    expect(Object.fromEntries(info)).toEqual({ used_memory: '1024', maxmemory_policy: 'noeviction', run_id: 'ff00' });
    expect(isOomError(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(true);
    const abort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error("OOM command not allowed when used memory > 'maxmemory'.")] });
    expect(isOomError(abort)).toBe(true);
    expect(isOomError(new Error('EXECABORT Transaction discarded because of previous errors.'))).toBe(false);
    expect(isOomError(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
  });
});

describe('Redis settings from flags', () => {
  const ws = useWorkspace('redis-settings');

  it('lists every TLS and Sentinel problem together, never with the password', () => {
    const notPem = join(ws.dir, 'ca.txt');
    writeFileSync(notPem, 'hello');
    const r = parseRedisSettings({ url: 'redis://:s3cret-pass@db.internal:6379', caFile: notPem, certFile: notPem, masterName: 'mymaster', tlsInsecure: true });
    expect(r.settings).toBeUndefined();
    expect(r.problems).toEqual([
      '--redis-ca / REDIS_CA_FILE: only used with a rediss:// URL (TLS); --redis / REDIS_URL is `redis://db.internal:6379`',
      '--redis-cert / REDIS_CERT_FILE: only used with a rediss:// URL (TLS); --redis / REDIS_URL is `redis://db.internal:6379`',
      '--redis-tls-insecure: only used with a rediss:// URL (TLS); --redis / REDIS_URL is `redis://db.internal:6379`',
      '--redis-cert / REDIS_CERT_FILE and --redis-key / REDIS_KEY_FILE: a client certificate needs both the certificate and its key, got only the certificate',
      '--redis-master / REDIS_MASTER: only used with --redis-sentinels / REDIS_SENTINELS',
    ]);
    expect(JSON.stringify(r.problems)).not.toContain('s3cret');

    const tls = parseRedisSettings({ url: 'rediss://db.internal:6380', caFile: notPem, tlsInsecure: true });
    expect(tls.problems).toEqual([
      '--redis-tls-insecure: only allowed for a loopback URL (a TLS tunnel on this machine), got host `db.internal`; give the CA that signed the server\'s certificate with --redis-ca / REDIS_CA_FILE, or the name on it with --redis-tls-servername',
      `--redis-ca / REDIS_CA_FILE: expected CA certificates (PEM, "-----BEGIN …-----"), got a file without one at ${notPem}`,
    ]);
    expect(parseRedisSettings({ url: 'rediss://127.0.0.1:6380', tlsInsecure: true }).settings).toEqual({ kind: 'standalone', url: 'rediss://127.0.0.1:6380', tls: { insecure: true } });

    const s = parseRedisSettings({ url: 'redis://:pw@ignored:1/2', sentinels: '10.0.0.1:26379, [::1]:26380,sentinel-c', masterName: 'mymaster', sentinelPassword: 'sentinel-pw' });
    expect(s.settings).toMatchObject({
      kind: 'sentinel',
      masterName: 'mymaster',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '::1', port: 26380 },
        { host: 'sentinel-c', port: 26379 },
      ],
    });
    expect(describeRedis(s.settings!)).toBe('Sentinel master "mymaster" (sentinels 10.0.0.1:26379,[::1]:26380,sentinel-c:26379)');
    expect(parseRedisSettings({ url: 'redis://x', sentinels: 'a:99999,' }).problems).toEqual([
      '--redis-sentinels / REDIS_SENTINELS: expected host:port (port 1–65535), got `a:99999`',
      "--redis-master / REDIS_MASTER: required with --redis-sentinels / REDIS_SENTINELS (the name in the Sentinels' `sentinel monitor <name> …`)",
    ]);
  });

  it('comes from flags and environment into the process configuration', () => {
    const config = loadProcessConfig(
      { redisSentinels: '127.0.0.1:26379', redisMaster: 'mymaster', allowEvictionPolicy: true },
      { needOkta: false, env: { REDIS_URL: 'redis://:pw@x:6379', REDIS_SENTINEL_PASSWORD: 'sp' } },
    );
    expect(config.redis).toMatchObject({ kind: 'sentinel', masterName: 'mymaster', sentinelPassword: 'sp' });
    expect(config.allowEvictionPolicy).toBe(true);
    expect(() => loadProcessConfig({ redis: 'http://x' }, { needOkta: false, env: {} })).toThrow(/--redis \/ REDIS_URL: expected redis:\/\/host:port or rediss:\/\/…, got `http:\/\/x`/);
  });
});

describe('real redis-servers configured as production sometimes is', () => {
  const ws = useWorkspace('redis-policy');
  const servers = useRedisServers();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function keysOf(url: string, prefix: string): Promise<string[]> {
    const c = createRedis(url);
    try {
      return await c.keys(`${prefix}*`);
    } finally {
      c.disconnect();
    }
  }

  function csv(rows: number): string {
    const file = join(ws.dir, 'in.csv');
    writeFileSync(file, ['userId,factorType,provider', ...Array.from({ length: rows }, (_, i) => `00u${String(i).padStart(17, '0')},push,OKTA`)].join('\n') + '\n');
    return file;
  }

  it('refuses allkeys-lru and volatile-lru before storing anything; --allow-eviction-policy accepts volatile-lru with a warning', async () => {
    const redis = await servers.start({ maxmemoryPolicy: 'allkeys-lru', maxmemory: '12mb' });
    const file = csv(5);
    const err = await enqueueCommand(file, { redis: redis.url, prefix: ws.prefix }, { env: {}, out: quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).code).toBe(2);
    expect((err as ExitError).message).toContain(`Redis at ${redis.url} may evict any key when memory runs out (maxmemory-policy allkeys-lru, maxmemory 12 MB)`);
    expect((err as ExitError).message).toContain('CONFIG SET maxmemory-policy noeviction');
    expect(await keysOf(redis.url, ws.prefix)).toEqual([]);

    const admin = createRedis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
    admin.disconnect();
    const refused = await enqueueCommand(file, { redis: redis.url, prefix: ws.prefix }, { env: {}, out: quiet }).catch((e: unknown) => e);
    expect((refused as ExitError).code).toBe(2);
    expect((refused as ExitError).message).toMatch(/evicts keys that have a TTL.*Or pass --allow-eviction-policy/);
    expect(await keysOf(redis.url, ws.prefix)).toEqual([]);

    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out: string[] = [];
    const runId = await enqueueCommand(file, { redis: redis.url, prefix: ws.prefix, allowEvictionPolicy: true }, { env: {}, out: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream });
    const warned = stderr.mock.calls.map((c) => String(c[0])).join('');
    stderr.mockRestore();
    expect(out.join('')).toContain('5 rows (0 invalid) queued');
    expect(runId).toMatch(/^\d{8}-\d{6}-/);
    expect(warned).toMatch(/Warning: Redis at .* evicts keys that have a TTL .*Accepted with --allow-eviction-policy/);
    expect(warned).toMatch(/Warning: Redis at .* shows no persistence/);
  });

  it('a run on an accepted volatile-lru Redis with AOF records both in its manifest, without a persistence warning', async () => {
    const redis = await servers.start({ maxmemoryPolicy: 'volatile-lru', appendOnly: true });
    const scenario = buildScenario(ws.dir, { users: 8, scanMs: [50, 150] });
    const token = 'policy-token-0123456789';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, rateLimit: 100_000, token });
    const report = join(ws.dir, 'report.csv');
    const logFile = join(ws.dir, 'run.log');
    await runCommand(
      scenario.inputCsv,
      { report, orgUrl: ws.sim.url, redis: redis.url, prefix: ws.prefix, allowEvictionPolicy: true, rateLimit: '100000', usersRateLimit: '100000', pollInitialMs: '100', logFile, logLevel: 'warn' },
      { env: { OKTA_API_TOKEN: token }, out: quiet },
    );
    const manifest = JSON.parse(readFileSync(`${report}.manifest.json`, 'utf8')) as { options: Record<string, unknown> };
    expect(manifest.options).toMatchObject({ allowEvictionPolicy: true, redisMaxmemoryPolicy: 'volatile-lru', redisPersistence: 'AOF' });
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/Accepted with --allow-eviction-policy/);
    expect(log).not.toMatch(/shows no persistence/);
  });

  it('reads a Redis that blocks CONFIG (as managed services do) from INFO alone', async () => {
    const redis = await servers.start({ args: ['--rename-command', 'CONFIG', ''] });
    const warnings: string[] = [];
    const health = await ensureRedis({ redis: { kind: 'standalone', url: redis.url } }, { warn: (m) => warnings.push(m) });
    expect(health).toMatchObject({ configReadable: false, maxmemoryPolicy: 'noeviction', persistence: { aof: false, rdb: 'unknown' } });
    expect(warnings.join()).toMatch(/no AOF and no RDB snapshot since it started, and CONFIG is not available to say more/);
  });
});
