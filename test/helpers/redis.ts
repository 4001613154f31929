/**
 * Tests that need Redis call useRedis(): it uses REDIS_URL when set, otherwise the
 * private redis-server that test/global-setup.ts started for this test run.
 * Every test gets its own key prefix from uniquePrefix(); cleanPrefix() deletes
 * only that prefix's keys (never FLUSHALL/FLUSHDB: the Redis may be shared).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

export function redisUrl(): string {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return fromEnv;
  const injected = inject('redisUrl');
  if (!injected) throw new Error('No Redis for tests: set REDIS_URL or let test/global-setup.ts start one');
  return injected;
}

export function uniquePrefix(label = 't'): string {
  return `be-test-${label}-${randomBytes(4).toString('hex')}`;
}

export async function cleanPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
