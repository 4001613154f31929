/**
 * Redis connections. BullMQ workers need `maxRetriesPerRequest: null` (blocking
 * commands); everything reconnects on its own with a capped backoff. A watchdog
 * reports when Redis has been unreachable for longer than the configured window, so
 * the process can stop with everything needed to `resume` kept in Redis.
 */
import { Redis, type RedisOptions } from 'ioredis';

export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...opts,
  });
  // Errors surface through the watchdog and failed commands; an unhandled 'error' event would crash.
  client.on('error', () => {});
  return client;
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
