import type { TestProject } from 'vitest/node';
import { startLocalRedis, type LocalRedis } from '../src/redis/local-redis.js';

let redis: LocalRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  redis = await startLocalRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
