/**
 * Okta's rate-limit bucket of a request, by path. Each bucket has its own budget at
 * Okta, so the shared limiter keeps one budget per bucket.
 */
import type { Bucket } from './types.js';

const USERS = '/api/v1/users/';

/**
 * `/api/v1/users/{id}/factors…` → factors; `/api/v1/users/{idOrLogin}` (and anything
 * else under /api/v1/users) → users; `/api/v1/groups…` → groups; `/api/v1/logs` → logs;
 * `/oauth2/…` → oauth. Other paths count against users, the client's general bucket.
 */
export function bucketForPath(path: string): Bucket {
  if (path.startsWith(USERS)) {
    const slash = path.indexOf('/', USERS.length);
    if (slash !== -1 && path.startsWith('/factors', slash)) {
      const after = path.charCodeAt(slash + 8);
      // end of path, '/', '?'
      if (Number.isNaN(after) || after === 47 || after === 63) return 'factors';
    }
    return 'users';
  }
  if (path.startsWith('/api/v1/groups')) return 'groups';
  if (path.startsWith('/api/v1/logs')) return 'logs';
  if (path.startsWith('/oauth2/')) return 'oauth';
  return 'users';
}
