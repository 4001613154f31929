/** `User-Agent: bulk-enroll/<version> node/<version>`, read once from the package's package.json. */
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
