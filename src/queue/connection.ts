/**
 * Redis connections, made in one place for every part of the runner (runtime, run
 * store, rate limiter, commands): a plain or TLS URL, or a master found through
 * Sentinel. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands);
 * everything reconnects on its own with a capped backoff. A watchdog reports when
 * Redis has been unreachable for longer than the configured window, so the process
 * can stop with everything needed to `resume` kept in Redis.
 */
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { redisSettingsOf, type RedisSettings, type RedisTlsSettings } from '../redis/settings.js';

function tlsOptionsOf(tls: RedisTlsSettings): ConnectionOptions {
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
    ...(tls.insecure ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {}),
  };
}

/** The ioredis options that say where the server is and how to reach it (no behaviour). */
export function connectionOptionsOf(settings: RedisSettings): RedisOptions {
  const tls = settings.tls ? tlsOptionsOf(settings.tls) : undefined;
  if (settings.kind === 'standalone') return tls ? { tls } : {};
  return {
    sentinels: settings.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: settings.masterName,
    ...(settings.sentinelUsername ? { sentinelUsername: settings.sentinelUsername } : {}),
    ...(settings.sentinelPassword ? { sentinelPassword: settings.sentinelPassword } : {}),
    // rediss:// with Sentinel: the Sentinels and the master are both reached over TLS.
    ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  };
}

/**
 * A connection to the configured Redis with exactly these options (ioredis' defaults
 * for the rest); the address and TLS always come from the settings.
 */
export function openRedis(settings: RedisSettings, options: RedisOptions = {}): Redis {
  // ioredis reads host, port, credentials and database from the URL (with Sentinel, the
  // URL's host is not used: the Sentinels name the master).
  const client = new Redis(settings.url, { ...options, ...connectionOptionsOf(settings) });
  // Errors surface through the watchdog and failed commands; an unhandled 'error' event would crash.
  client.on('error', () => {});
  return client;
}

/**
 * A connection for the runtime, the run store and the commands: no per-command retry
 * limit (BullMQ's blocking commands need that), reconnecting every 0.2–2 s. `overrides`
 * change behaviour (retries, lazy connect…), never the address or TLS. A plain URL
 * string is accepted for callers that have nothing more.
 */
export function createRedis(target: RedisSettings | string, overrides: RedisOptions = {}): Redis {
  const settings = typeof target === 'string' ? redisSettingsOf(target) : target;
  return openRedis(settings, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...overrides,
  });
}

/**
 * The shared limiter's `connect` option: its own connection to the same Redis (TLS,
 * Sentinel) with the limiter's options and ioredis' defaults for the rest, as before
 * it went through here.
 */
export function limiterConnection(settings: RedisSettings): (options: RedisOptions) => Redis {
  return (options) => openRedis(settings, options);
}

export interface RedisWatchdog {
  stop(): void;
}

/** Calls onLost once when `client` has not been ready for `windowMs`. */
export function watchRedis(client: Redis, windowMs: number, onLost: (downForMs: number) => void, onDown?: () => void): RedisWatchdog {
  let downSince: number | undefined;
  let fired = false;
  const timer = setInterval(() => {
    if (client.status === 'ready') {
      downSince = undefined;
      return;
    }
    if (downSince === undefined) {
      downSince = Date.now();
      onDown?.();
    }
    const down = Date.now() - downSince;
    if (!fired && down >= windowMs) {
      fired = true;
      onLost(down);
    }
  }, 500);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
