/** `User-Agent: bulk-enroll/<version> node/<version> [run/<runId>]`, the version read once from the package's package.json. */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  let dir = new URL('.', import.meta.url);
  // src/okta (tsx, vitest) or dist/src/okta (built): package.json is a few levels up.
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'bulk-enroll' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one level up
    }
    dir = new URL('..', dir);
  }
  return '0.0.0';
}

export const USER_AGENT = `bulk-enroll/${packageVersion()} node/${process.versions.node}`;

/** Characters of an HTTP token (RFC 9110 tchar): what a product version may carry. */
const NOT_TCHAR = /[^!#$%&'*+.^_`|~0-9A-Za-z-]/g;

/**
 * The User-Agent of a request made for a run: `bulk-enroll/0.1.0 node/20.20.2 run/<runId>`,
 * so Okta's System Log (client.userAgent.rawUserAgent) ties each request to its run.
 * Characters a header token cannot carry become `_`; at most 80 are kept.
 */
export function userAgentFor(runId: string | undefined): string {
  if (runId === undefined || runId === '') return USER_AGENT;
  return `${USER_AGENT} run/${runId.slice(0, 80).replace(NOT_TCHAR, '_')}`;
}
