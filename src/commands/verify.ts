/**
 * `bulk-enroll verify <manifest> [--public-key <pem>]`: re-hashes the input and report
 * files a manifest names, checks its signature, and says exactly what differs.
 * Exit 0 everything matches; 1 anything differs or is missing; 2 usage (no such
 * manifest, not a manifest, unreadable key).
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';

export function register(program: Command): void {
  program
    .command('verify')
    .argument('<manifest>', 'a <report>.manifest.json written by run, resume, reenroll or audit')
    .description('check a manifest: re-hash its input and report files and check its signature')
    .option('--public-key <pem>', 'the ed25519 public key (PEM) the manifest must be signed with')
    .option('--json', 'print the result as JSON')
    .action(async (manifest: string, flags: RawOptions) => {
      await verifyCommand(manifest, flags);
    });
}

export async function verifyCommand(
  manifestFile: string,
  flags: RawOptions,
  io: { out?: NodeJS.WritableStream } = {},
): Promise<import('../runs/manifest.js').VerifyResult> {
  const { ExitError, EXIT } = await import('../errors.js');
  const { loadPublicKey, verifyManifest, ManifestReadError } = await import('../runs/manifest.js');
  const out = io.out ?? process.stdout;
  const publicKey = typeof flags.publicKey === 'string' ? await loadPublicKey(flags.publicKey) : undefined;
  let result;
  try {
    result = await verifyManifest(manifestFile, publicKey ? { publicKey } : {});
  } catch (err) {
    if (err instanceof ManifestReadError) throw new ExitError(EXIT.USAGE, err.message);
    throw err;
  }
  if (flags.json) {
    out.write(`${JSON.stringify({ ok: result.ok, signature: result.signature, checks: result.checks })}\n`);
  } else {
    const m = result.manifest;
    out.write(`Manifest ${manifestFile}: ${m.command}${m.runId ? ` ${m.runId}` : ''} by ${m.operator || '?'} on ${m.host || '?'}, ${m.startedAt} to ${m.finishedAt}\n`);
    for (const c of result.checks) out.write(`  ${c.ok ? 'ok  ' : 'DIFF'} ${c.message}\n`);
    out.write(result.ok ? 'Everything matches.\n' : `${result.checks.filter((c) => !c.ok).length} difference(s).\n`);
  }
  if (!result.ok) throw new ExitError(EXIT.FATAL, '');
  return result;
}
