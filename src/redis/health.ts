/**
 * What kind of Redis the runner is about to trust with a migration, read at start
 * from INFO (server, memory, persistence, replication, stats), and the verdict on
 * it. Managed services (ElastiCache, Azure Cache, Memorystore) block CONFIG, so INFO
 * is the source and CONFIG GET only an optional extra when the server allows it.
 *
 * The verdict: a server that may evict any key (allkeys-*) is refused, one that
 * evicts keys with a TTL (volatile-*) is refused unless the operator accepts it
 * (--allow-eviction-policy), a replica or a cluster node is refused, a server that
 * shows no persistence is named in a warning (some managed services show none, so it
 * is never refused for that).
 */
import type { Redis } from 'ioredis';

export interface RedisPersistence {
  aof: boolean;
  /** on: save points configured or a snapshot seen; off: CONFIG says `save ""`; unknown: neither visible. */
  rdb: 'on' | 'off' | 'unknown';
  /** The `save` setting, when CONFIG GET answered. */
  savePoints?: string;
  /** Epoch seconds of the last successful RDB save. */
  lastSave?: number;
  changesSinceSave?: number;
  /** A persistence write that is failing (disk full…), as Redis reports it. */
  failing?: string;
}

export interface RedisHealth {
  /** redis, valkey, dragonfly… */
  server: string;
  version: string;
  /** standalone, sentinel, cluster */
  mode: string;
  runId: string;
  /** master or slave */
  role: string;
  /** Bytes; 0: no limit. */
  maxmemory: number;
  /** undefined when neither INFO nor CONFIG shows it. */
  maxmemoryPolicy?: string;
  usedMemory: number;
  evictedKeys: number;
  persistence: RedisPersistence;
  /** CONFIG GET answered (self-managed servers; managed services usually refuse). */
  configReadable: boolean;
}

export interface RedisVerdict {
  /** Why the runner will not use this Redis (exit 2), with the fix. */
  refusal?: string;
  warnings: string[];
}

/** `key:value` lines of an INFO answer. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

async function configGet(client: Redis, name: string): Promise<string | undefined> {
  try {
    const r = (await client.call('CONFIG', 'GET', name)) as unknown;
    // RESP2: [name, value]; RESP3: { name: value }
    if (Array.isArray(r)) return r.length >= 2 ? String(r[1]) : undefined;
    if (r && typeof r === 'object') {
      const v = (r as Record<string, unknown>)[name];
      return v === undefined ? undefined : String(v);
    }
    return undefined;
  } catch {
    return undefined; // CONFIG is blocked or renamed (managed services): INFO has to do
  }
}

/** Reads the server's INFO (and CONFIG GET where allowed). */
export async function inspectRedis(client: Redis): Promise<RedisHealth> {
  const sections = await Promise.all(['server', 'memory', 'persistence', 'replication', 'stats'].map((s) => client.info(s)));
  const info = new Map<string, string>();
  for (const text of sections) for (const [k, v] of parseInfo(String(text))) info.set(k, v);
  const server = info.has('valkey_version') ? 'valkey' : info.has('dragonfly_version') ? 'dragonfly' : 'redis';
  const version = info.get('valkey_version') ?? info.get('dragonfly_version') ?? info.get('redis_version') ?? '';

  let maxmemoryPolicy = info.get('maxmemory_policy');
  const savePoints = await configGet(client, 'save');
  const configReadable = savePoints !== undefined;
  if (!maxmemoryPolicy && configReadable) maxmemoryPolicy = await configGet(client, 'maxmemory-policy');

  const aof = info.get('aof_enabled') === '1';
  let rdb: RedisPersistence['rdb'];
  if (savePoints !== undefined) rdb = savePoints.trim() ? 'on' : 'off';
  else {
    // Without CONFIG: a snapshot taken since the server started shows RDB is at work.
    const bgsave = num(info.get('rdb_last_bgsave_time_sec'));
    const saves = num(info.get('rdb_saves'));
    rdb = (bgsave !== undefined && bgsave >= 0) || (saves ?? 0) > 0 ? 'on' : 'unknown';
  }
  const failing = [
    info.get('aof_last_write_status') === 'err' ? 'AOF writes are failing (aof_last_write_status:err)' : '',
    info.get('rdb_last_bgsave_status') === 'err' ? 'the last RDB snapshot failed (rdb_last_bgsave_status:err)' : '',
  ]
    .filter(Boolean)
    .join('; ');

  return {
    server,
    version,
    mode: info.get('redis_mode') ?? 'standalone',
    runId: info.get('run_id') ?? '',
    role: info.get('role') ?? 'master',
    maxmemory: num(info.get('maxmemory')) ?? 0,
    ...(maxmemoryPolicy ? { maxmemoryPolicy } : {}),
    usedMemory: num(info.get('used_memory')) ?? 0,
    evictedKeys: num(info.get('evicted_keys')) ?? 0,
    persistence: {
      aof,
      rdb,
      ...(savePoints !== undefined ? { savePoints } : {}),
      ...(num(info.get('rdb_last_save_time')) !== undefined ? { lastSave: num(info.get('rdb_last_save_time')) } : {}),
      ...(num(info.get('rdb_changes_since_last_save')) !== undefined ? { changesSinceSave: num(info.get('rdb_changes_since_last_save')) } : {}),
      ...(failing ? { failing } : {}),
    },
    configReadable,
  };
}

/** 1536 → "1.5 KB", 0 → "0 B" (binary units, as Redis' *_human fields). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ${units[i]}`;
}

function limitText(h: RedisHealth): string {
  return h.maxmemory > 0 ? `maxmemory ${formatBytes(h.maxmemory)}` : 'maxmemory 0, no limit for now';
}

const POLICY_FIX =
  'Fix: `redis-cli CONFIG SET maxmemory-policy noeviction` (and `maxmemory-policy noeviction` in redis.conf, or `CONFIG REWRITE`, so a restart keeps it); ' +
  'on ElastiCache set maxmemory-policy to noeviction in the parameter group, on Azure Cache for Redis in Advanced settings, on Memorystore in the instance configuration.';

/** "AOF", "RDB", "AOF+RDB", "none" or "unknown": what the manifest records. */
export function persistenceLabel(p: RedisPersistence): string {
  if (p.aof && p.rdb === 'on') return 'AOF+RDB';
  if (p.aof) return 'AOF';
  if (p.rdb === 'on') return 'RDB';
  return p.rdb === 'off' ? 'none' : 'unknown';
}

/** True when a restart would keep (most of) what was written. */
export function persistenceVisible(p: RedisPersistence): boolean {
  return p.aof || p.rdb === 'on';
}

/** The verdict on a Redis about to hold runs (enqueue, run, worker, resume…). */
export function judgeRedis(h: RedisHealth, where: string, opts: { allowEvictionPolicy?: boolean } = {}): RedisVerdict {
  const warnings: string[] = [];
  const policy = h.maxmemoryPolicy;
  const major = Number(/^(\d+)/.exec(h.version)?.[1] ?? NaN);
  const minor = Number(/^\d+\.(\d+)/.exec(h.version)?.[1] ?? 0);
  if (h.mode === 'cluster') {
    return { warnings, refusal: `Redis at ${where} is a Redis Cluster node (redis_mode:cluster); bulk-enroll does not support Redis Cluster yet. Use a standalone Redis or a Sentinel-managed master (--redis-sentinels, --redis-master).` };
  }
  if (h.role !== 'master') {
    return {
      warnings,
      refusal: `Redis at ${where} is a replica (role:${h.role}): writes would fail or be lost to replication. Point --redis / REDIS_URL at the primary, or let Sentinel find it with --redis-sentinels and --redis-master.`,
    };
  }
  if (h.server === 'redis' && Number.isFinite(major) && major < 5) {
    return { warnings, refusal: `Redis at ${where} is version ${h.version}; BullMQ needs Redis 5.0 or later (6.2 or later recommended). Upgrade the server.` };
  }
  if (h.server === 'redis' && Number.isFinite(major) && (major < 6 || (major === 6 && minor < 2))) {
    warnings.push(`Redis at ${where} is version ${h.version}; BullMQ recommends 6.2 or later.`);
  }

  if (policy?.startsWith('allkeys-')) {
    return {
      warnings,
      refusal:
        `Redis at ${where} may evict any key when memory runs out (maxmemory-policy ${policy}, ${limitText(h)}): stored rows, outcomes and whole runs would vanish without an error, ` +
        `and BullMQ requires noeviction. bulk-enroll will not use it. ${POLICY_FIX}`,
    };
  }
  if (policy?.startsWith('volatile-')) {
    const what =
      `Redis at ${where} evicts keys that have a TTL when memory runs out (maxmemory-policy ${policy}, ${limitText(h)}, ${formatBytes(h.usedMemory)} used). ` +
      `Those are BullMQ's job locks and the rate limiter's keys, the first to go when memory runs short: jobs would be taken over while they run and the shared Okta budget would start again from zero.`;
    if (!opts.allowEvictionPolicy) {
      return { warnings, refusal: `${what} ${POLICY_FIX} Or pass --allow-eviction-policy to accept the risk (the run's manifest records it).` };
    }
    warnings.push(`${what} Accepted with --allow-eviction-policy: keep memory well below maxmemory.`);
  } else if (!policy) {
    warnings.push(`Redis at ${where} does not show its maxmemory-policy (neither INFO nor CONFIG GET); BullMQ requires noeviction: check the service's settings.`);
  } else if (policy !== 'noeviction') {
    warnings.push(`Redis at ${where} has maxmemory-policy ${policy}; BullMQ requires noeviction.`);
  }

  const p = h.persistence;
  if (!persistenceVisible(p)) {
    const seen =
      p.rdb === 'off'
        ? 'appendonly no, and save "": no RDB snapshots'
        : `no AOF and no RDB snapshot since it started${h.configReadable ? '' : ', and CONFIG is not available to say more (managed services often persist in their own way: check yours)'}`;
    warnings.push(
      `Redis at ${where} shows no persistence (${seen}): if it restarts, every run's stored rows and outcomes are lost, and a run in progress stops with an error instead of finishing ` +
        `(users enrolled by then keep their factors at Okta; re-running the file adopts them). Turn on AOF where you can: \`CONFIG SET appendonly yes\` with appendfsync everysec.`,
    );
  }
  if (p.failing) warnings.push(`Redis at ${where}: ${p.failing}; what is written now may not survive a restart.`);
  return { warnings };
}

/** Option names the run's manifest records about its Redis (src/runs/manifest.ts allows them). */
export const REDIS_RECORDED_OPTIONS = ['allowEvictionPolicy', 'redisMaxmemoryPolicy', 'redisPersistence'] as const;

/** What a run records about the Redis it ran on, as manifest options. */
export function redisManifestOptions(h: RedisHealth | undefined, allowEvictionPolicy: boolean): Record<string, string | boolean> {
  if (!h) return allowEvictionPolicy ? { allowEvictionPolicy: true } : {};
  return {
    ...(allowEvictionPolicy ? { allowEvictionPolicy: true } : {}),
    redisMaxmemoryPolicy: h.maxmemoryPolicy ?? 'unknown',
    redisPersistence: persistenceLabel(h.persistence),
  };
}
