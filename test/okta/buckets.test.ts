import { describe, expect, it } from 'vitest';
import { bucketForPath } from '../../src/okta/buckets.js';

describe('bucketForPath', () => {
  it.each([
    ['/api/v1/users/00u1/factors', 'factors'],
    ['/api/v1/users/00u1/factors?activate=true', 'factors'],
    ['/api/v1/users/00u1/factors/opf1/lifecycle/activate/poll', 'factors'],
    ['/api/v1/users/00u1', 'users'],
    ['/api/v1/users/dade.murphy%40example.com', 'users'],
    ['/api/v1/users/00u1/factorsx', 'users'],
    ['/api/v1/groups?q=eng', 'groups'],
    ['/api/v1/groups/00g1/users?limit=200', 'groups'],
    ['/api/v1/logs?since=2024-01-01T00:00:00Z', 'logs'],
    ['/oauth2/v1/token', 'oauth'],
  ] as const)('%s → %s', (path, bucket) => {
    expect(bucketForPath(path)).toBe(bucket);
  });
});
