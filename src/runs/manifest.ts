/**
 * Run manifests: the evidence that ties an input file, a command and its report
 * together. Every `run`, `resume`, `reenroll` and `audit` writes `<report>.manifest.json`
 * next to its report: tool version, command and the options that shaped the result
 * (an allow-list: the API token, token file, OAuth private key, Redis URL and signing
 * key are never recorded), operator and host, start and end time, the input file's and the
 * report's name, size and SHA-256, and counts per outcome (audit: per status).
 *
 * With a signing key (ed25519, PEM) the manifest carries `publicKey` (SPKI PEM) and
 * `signature`: base64 of the ed25519 signature over the canonical JSON of the
 * manifest without its `signature` field. `verifyManifest` re-hashes the files and
 * checks the signature, and says exactly what differs.
 *
 * File paths are recorded relative to the manifest's folder when the file lies
 * inside it, else absolute.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { osUser } from './operator.js';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { hashFile } from '../csv/read-input.js';
import { ConfigError } from '../errors.js';
import { packageVersion } from '../okta/user-agent.js';
import { canonicalJson } from './canonical-json.js';
import { REDIS_RECORDED_OPTIONS } from '../redis/health.js';

export const MANIFEST_VERSION = 1;
export const MANIFEST_SUFFIX = '.manifest.json';

/**
 * Options a manifest may record (commander's camelCase names). Everything else is left
 * out, whatever it holds: credentials (token, token file, signing key, Redis URL with a
 * password) can never slip in through a new flag.
 */
export const RECORDED_OPTIONS: readonly string[] = [
  // what was asked
  'report',
  'out',
  'group',
  'from',
  'strict',
  'runId',
  'match',
  'skip',
  'maxRows',
  'pageSize',
  'maxAttempts',
  'users',
  'includeFailed',
  'includePending',
  // where and how fast
  'orgUrl',
  'auth',
  'clientId',
  'keyId',
  'scopes',
  'dpop',
  'prefix',
  'allowInsecureHttp',
  'requestTimeoutMs',
  'rateLimit',
  'usersRateLimit',
  'maxConcurrent',
  'pollShare',
  'concurrency',
  'maxInFlight',
  // run settings
  'pollInitialMs',
  'pollFactor',
  'pollMaxMs',
  'activationTimeoutMs',
  'attempts',
  'retryBaseMs',
  'deviceFields',
  // the Redis it ran on: its eviction policy (and whether a risky one was accepted), its persistence
  ...REDIS_RECORDED_OPTIONS,
];

export type RecordedValue = string | number | boolean | string[];

const fileRecordSchema = z.object({
  /** File name as given (base name). */
  name: z.string().min(1),
  /** Relative to the manifest's folder, or absolute. */
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
});

export const manifestSchema = z.object({
  manifestVersion: z.literal(MANIFEST_VERSION),
  tool: z.object({ name: z.literal('bulk-enroll'), version: z.string(), node: z.string() }),
  command: z.string().min(1),
  runId: z.string().optional(),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())])),
  operator: z.string(),
  host: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** finished | stopped | fatal (run); complete | incomplete (audit). */
  state: z.string().optional(),
  input: fileRecordSchema.optional(),
  counts: z.record(z.string(), z.number()),
  /** Further figures (audit: users, by factor type, active push share). */
  summary: z.record(z.string(), z.unknown()).optional(),
  report: fileRecordSchema,
  signatureAlgorithm: z.literal('ed25519').optional(),
  publicKey: z.string().optional(),
  signature: z.string().optional(),
});

export type FileRecord = z.infer<typeof fileRecordSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** `<report>.manifest.json` */
export function manifestPathFor(reportPath: string): string {
  return `${reportPath}${MANIFEST_SUFFIX}`;
}

/** The allow-listed options, with values a manifest can hold (strings, numbers, booleans, lists of strings). */
export function recordedOptions(options: Record<string, unknown>): Record<string, RecordedValue> {
  const out: Record<string, RecordedValue> = {};
  for (const name of RECORDED_OPTIONS) {
    const v = options[name];
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[name] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[name] = [...(v as string[])];
  }
  return out;
}

/** Relative to `dir` (with `/`) when `file` lies inside it, else absolute. */
function recordedPath(file: string, dir: string): string {
  const abs = resolve(file);
  const rel = relative(dir, abs);
  if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  return abs;
}

async function readKeyFile(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ConfigError([`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
}

/**
 * Reads an ed25519 private key (PEM) for `--sign-key`. Throws ConfigError naming the
 * flag, what was expected and what was found.
 */
export async function loadManifestSigningKey(file: string, flag = '--sign-key'): Promise<KeyObject> {
  const pem = await readKeyFile(file, flag);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /passphrase/i.test(msg) ? 'an unencrypted PEM private key (this one needs a passphrase)' : 'a PEM private key (openssl genpkey -algorithm ed25519 -out key.pem)';
    throw new ConfigError([`${flag}: expected ${hint}, got a file ${file} that is not one`]);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError([`${flag}: expected an ed25519 private key, got a${key.asymmetricKeyType === 'ec' ? 'n' : ''} ${key.asymmetricKeyType ?? 'unknown'} key in ${file}`]);
  }
  return key;
}

/** Reads a public key (PEM; a private key PEM also works, its public half is used) for `--public-key`. */
export async function loadPublicKey(file: string, flag = '--public-key'): Promise<KeyObject> {
  const pem = await readKeyFile(file, flag);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new ConfigError([`${flag}: expected a PEM public key (openssl pkey -in key.pem -pubout), got a file ${file} that is not one`]);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError([`${flag}: expected an ed25519 public key, got a ${key.asymmetricKeyType ?? 'unknown'} key in ${file}`]);
  }
  return key;
}

/** The bytes a signature covers: the canonical JSON of the manifest without `signature`. */
export function signedPayload(manifest: Manifest): Buffer {
  const { signature: _signature, ...rest } = manifest;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** Adds signatureAlgorithm, publicKey and signature (the input is not changed). */
export function signManifest(manifest: Manifest, privateKey: KeyObject): Manifest {
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const { signature: _old, ...rest } = manifest;
  const unsigned: Manifest = { ...rest, signatureAlgorithm: 'ed25519', publicKey };
  const signature = sign(null, signedPayload(unsigned), privateKey).toString('base64');
  return { ...unsigned, signature };
}

export interface WriteManifestOptions {
  /** run | resume | reenroll | audit | demo */
  command: string;
  runId?: string;
  /** The command's flags as commander gave them; only RECORDED_OPTIONS are kept. */
  options: Record<string, unknown>;
  startedAt: Date | string;
  /** Default: now. */
  finishedAt?: Date | string;
  state?: string;
  /**
   * The input file. With `sha256` (and `bytes`) given, those are recorded as the
   * content the command read (a run records what it ingested); otherwise the file is
   * hashed now.
   */
  input?: string | { path: string; bytes?: number; sha256?: string };
  /** The report just written; hashed now. The manifest goes next to it. */
  reportPath: string;
  counts: Record<string, number>;
  summary?: Record<string, unknown>;
  signKey?: KeyObject;
}

const asIso = (d: Date | string): string => (typeof d === 'string' ? d : d.toISOString());


/** Builds, optionally signs and writes `<report>.manifest.json` (0600, atomic). */
export async function writeManifest(opts: WriteManifestOptions): Promise<{ file: string; manifest: Manifest }> {
  const file = manifestPathFor(opts.reportPath);
  const dir = dirname(resolve(file));
  const reportHash = await hashFile(opts.reportPath);
  let input: FileRecord | undefined;
  if (opts.input !== undefined) {
    const given = typeof opts.input === 'string' ? { path: opts.input } : opts.input;
    let bytes = given.bytes;
    let sha256 = given.sha256;
    if (sha256 === undefined) ({ bytes, sha256 } = await hashFile(given.path));
    else if (bytes === undefined) bytes = (await stat(given.path).catch(() => undefined))?.size ?? 0;
    input = { name: basename(given.path), path: recordedPath(given.path, dir), bytes: bytes ?? 0, sha256 };
  }
  let manifest: Manifest = {
    manifestVersion: MANIFEST_VERSION,
    tool: { name: 'bulk-enroll', version: packageVersion(), node: process.versions.node },
    command: opts.command,
    ...(opts.runId ? { runId: opts.runId } : {}),
    options: recordedOptions(opts.options),
    operator: osUser(),
    host: hostname(),
    startedAt: asIso(opts.startedAt),
    finishedAt: asIso(opts.finishedAt ?? new Date()),
    ...(opts.state ? { state: opts.state } : {}),
    ...(input ? { input } : {}),
    counts: { ...opts.counts },
    ...(opts.summary ? { summary: opts.summary } : {}),
    report: { name: basename(opts.reportPath), path: recordedPath(opts.reportPath, dir), bytes: reportHash.bytes, sha256: reportHash.sha256 },
  };
  if (opts.signKey) manifest = signManifest(manifest, opts.signKey);
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return { file, manifest };
}

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  await rename(tmp, file);
}

// ---- verification ----

/** A manifest that cannot be read or is not one (a usage error for `verify`). */
export class ManifestReadError extends Error {
  override readonly name = 'ManifestReadError';
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
  }
}

export async function readManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestReadError(file, code === 'ENOENT' ? 'manifest not found' : `cannot be read (${code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestReadError(file, `expected a bulk-enroll manifest (JSON), got text that is not JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 10).map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ManifestReadError(file, `not a bulk-enroll manifest: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export interface VerifyCheck {
  /** `report.csv`, `input users.csv`, `signature` */
  subject: string;
  ok: boolean;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  manifest: Manifest;
  checks: VerifyCheck[];
  /** valid: against --public-key; self-consistent: valid against the embedded key only. */
  signature: 'valid' | 'self-consistent' | 'invalid' | 'unsigned';
}

const short = (sha: string): string => `${sha.slice(0, 12)}…`;

async function checkFile(record: FileRecord, label: string, manifestDir: string): Promise<VerifyCheck> {
  const recorded = isAbsolute(record.path) ? record.path : resolve(manifestDir, record.path);
  let path = recorded;
  let note = '';
  let st = await stat(path).catch(() => undefined);
  if (!st) {
    // A manifest handed over with its files in one folder: look next to the manifest too.
    const beside = join(manifestDir, record.name);
    const st2 = beside !== recorded ? await stat(beside).catch(() => undefined) : undefined;
    if (st2?.isFile()) {
      path = beside;
      st = st2;
      note = ` (found next to the manifest, not at ${record.path})`;
    }
  }
  if (!st) return { subject: label, ok: false, message: `${label}: missing (expected at ${recorded})` };
  if (!st.isFile()) return { subject: label, ok: false, message: `${label}: not a regular file (${path})` };
  let actual: { bytes: number; sha256: string };
  try {
    actual = await hashFile(path);
  } catch (err) {
    return { subject: label, ok: false, message: `${label}: cannot be read (${(err as Error).message})` };
  }
  if (actual.sha256 !== record.sha256) {
    const size = actual.bytes !== record.bytes ? `; size: manifest ${record.bytes} bytes, file ${actual.bytes} bytes` : '';
    return { subject: label, ok: false, message: `${label}: SHA-256 differs (manifest ${short(record.sha256)}, file ${short(actual.sha256)}${size})${note}` };
  }
  return { subject: label, ok: true, message: `${label}: SHA-256 matches (${record.bytes} bytes)${note}` };
}

function checkSignature(manifest: Manifest, publicKey: KeyObject | undefined): { check: VerifyCheck; state: VerifyResult['signature'] } {
  const subject = 'signature';
  if (manifest.signature === undefined) {
    if (publicKey) {
      return { state: 'unsigned', check: { subject, ok: false, message: 'signature: missing (the manifest is not signed, but --public-key was given)' } };
    }
    return { state: 'unsigned', check: { subject, ok: true, message: 'signature: none (the manifest is not signed)' } };
  }
  if (manifest.signatureAlgorithm !== 'ed25519') {
    return { state: 'invalid', check: { subject, ok: false, message: `signature: invalid (expected signatureAlgorithm "ed25519", got ${JSON.stringify(manifest.signatureAlgorithm ?? null)})` } };
  }
  const sig = Buffer.from(manifest.signature, 'base64');
  const payload = signedPayload(manifest);
  if (publicKey) {
    let good = false;
    try {
      good = verify(null, payload, publicKey, sig);
    } catch {
      good = false;
    }
    if (good) return { state: 'valid', check: { subject, ok: true, message: 'signature: valid (made with the private key of --public-key)' } };
    return { state: 'invalid', check: { subject, ok: false, message: 'signature: invalid (not made with the key of --public-key, or the manifest was changed after signing)' } };
  }
  let embedded: KeyObject;
  try {
    embedded = createPublicKey({ key: manifest.publicKey ?? '', format: 'pem' });
  } catch {
    return { state: 'invalid', check: { subject, ok: false, message: 'signature: invalid (the manifest\'s publicKey is not a PEM public key)' } };
  }
  let good = false;
  try {
    good = embedded.asymmetricKeyType === 'ed25519' && verify(null, payload, embedded, sig);
  } catch {
    good = false;
  }
  if (!good) return { state: 'invalid', check: { subject, ok: false, message: 'signature: invalid (the manifest was changed after signing)' } };
  return {
    state: 'self-consistent',
    check: {
      subject,
      ok: true,
      message:
        'signature: valid against the public key embedded in the manifest; this only shows the manifest is self-consistent ' +
        '(anyone can re-sign a changed manifest with a key of their own): pass --public-key to check who signed it',
    },
  };
}

/**
 * Re-hashes the input and report files a manifest names and checks its signature.
 * Throws ManifestReadError when the manifest cannot be read or is not one.
 */
export async function verifyManifest(file: string, opts: { publicKey?: KeyObject } = {}): Promise<VerifyResult> {
  const manifest = await readManifest(file);
  const dir = dirname(resolve(file));
  const checks: VerifyCheck[] = [];
  if (manifest.input) checks.push(await checkFile(manifest.input, `input ${manifest.input.name}`, dir));
  checks.push(await checkFile(manifest.report, manifest.report.name, dir));
  const sig = checkSignature(manifest, opts.publicKey);
  checks.push(sig.check);
  return { ok: checks.every((c) => c.ok), manifest, checks, signature: sig.state };
}
