/**
 * For commands that only read run state (status, report): the Redis settings from flags
 * and env, a clear answer when Redis is not there, a RunStore, and the connection closed
 * afterwards whatever happens.
 */
import type { ProcessConfig, RawOptions } from '../config.js';
import type { RunStore } from '../runs/store.js';

export async function withRunStore<T>(flags: RawOptions, env: NodeJS.ProcessEnv | undefined, fn: (store: RunStore, config: ProcessConfig) => Promise<T>): Promise<T> {
  const { loadProcessConfig } = await import('../config.js');
  const { RunStore } = await import('../runs/store.js');
  const { createRedis } = await import('../queue/connection.js');
  const { ensureRedis } = await import('./redis-check.js');
  const config = loadProcessConfig(flags, { env, needOkta: false });
  await ensureRedis(config, { purpose: 'read' });
  const redis = createRedis(config.redis);
  try {
    return await fn(new RunStore(redis, config.prefix), config);
  } finally {
    redis.disconnect();
  }
}

/** The message for a run id that is not in Redis. */
export function noSuchRun(runId: string, prefix: string): string {
  return `No run ${runId} under prefix ${prefix}. \`bulk-enroll status\` lists runs.`;
}
