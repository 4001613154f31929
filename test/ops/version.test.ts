/**
 * `bulk-enroll --version` / `-V`: the version the run manifests record (tool.version,
 * from package.json through packageVersion()), alone on stdout, exit 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { packageVersion } from '../../src/okta/user-agent.js';
import { ROOT, runCli } from '../helpers/cli.js';

it('--version and -V print the version the manifests record, and exit 0', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(packageVersion()).toBe(pkg.version);
  const [long, short, help] = await Promise.all([runCli(['--version']), runCli(['-V']), runCli(['--help'])]);
  for (const r of [long, short]) {
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe('');
  }
  expect(help.stdout).toMatch(/-V, --version\s+print the version of bulk-enroll/);
});
