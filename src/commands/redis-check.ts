/** A clear answer when Redis is not there, instead of a reconnect loop. */
import { redisReachable } from '../redis/local-redis.js';
import { FatalRunError } from '../errors.js';
import { redactUrl } from '../queue/runtime.js';

export async function ensureRedis(url: string): Promise<void> {
  if (await redisReachable(url, 3000)) return;
  throw new FatalRunError(
    `Redis is not reachable at ${redactUrl(url)}.`,
    'Start one (Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`; or `docker compose up -d redis`) and set REDIS_URL / --redis.',
  );
}
