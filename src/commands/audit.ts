/**
 * `bulk-enroll audit [<users.csv>] [--group <groupId>] --out <inventory.csv>`: every
 * factor of every user of a list or a group, read through the shared rate limiter,
 * written as an inventory CSV (one row per factor; NONE / NOT_FOUND / ERROR rows for
 * users without factors, unknown to Okta, or unreadable) with its manifest next to it,
 * and a summary: counts by factor type and status, share of users with an active push
 * factor. Exit 0 ok; 1 fatal or some users could not be read; 2 usage / config / input.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addInputOptions, addLogOptions, addOktaOptions, addRedisOptions, addReportOptions } from './options.js';
import { collectProblems, collectProblemsAsync } from '../errors.js';

export function register(program: Command): void {
  const cmd = program
    .command('audit')
    .argument('[users]', 'CSV of users to audit (a userId or login column; other columns are ignored; - reads standard input)')
    .description('write an inventory of the factors of a user list or an Okta group, with a summary and a manifest')
    .option('--group <groupId>', 'audit the members of this Okta group instead of a CSV')
    .requiredOption('--out <file>', 'where to write the inventory CSV (userId,login,factorId,factorType,provider,status,created,lastUpdated)')
    .option('--concurrency <n>', `users read at once (default 8)`)
    .option('--page-size <n>', 'group members per page, 1 to 200 (default 200)')
    .option('--sign-key <pem>', 'sign the manifest with this ed25519 private key (PEM file)')
    .option('--rate-limit <perMinute>', 'Okta calls per minute for factor reads, shared by all processes (default 300)')
    .option('--users-rate-limit <perMinute>', 'Okta calls per minute for user and group reads (default: --rate-limit)')
    .option('--max-concurrent <n>', 'Okta requests in flight per bucket across all processes (default 20; org limit 75)');
  addLogOptions(cmd);
  addOktaOptions(cmd);
  addRedisOptions(cmd);
  addInputOptions(cmd, { unknownColumnsIgnored: true });
  addReportOptions(cmd);
  cmd.action(async (users: string | undefined, flags: RawOptions) => {
    await auditCommand(users, flags);
  });
}

export interface AuditCommandIo {
  env?: NodeJS.ProcessEnv;
  out?: NodeJS.WritableStream;
  /** Progress lines (default stderr). */
  err?: NodeJS.WritableStream;
}

export async function auditCommand(
  usersFile: string | undefined,
  flags: RawOptions,
  io: AuditCommandIo = {},
): Promise<import('../audit/audit.js').AuditResult & { manifestPath: string }> {
  const startedAt = new Date();
  const { loadProcessConfig } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ConfigError, ExitError, EXIT, FatalRunError } = await import('../errors.js');
  const { OktaApiError, ForeignOriginError, InsecureTransportError } = await import('../okta/index.js');
  const { runAudit, DEFAULT_AUDIT_CONCURRENCY } = await import('../audit/audit.js');
  const { checkUserList, usersFromGroup, usersFromList } = await import('../audit/sources.js');
  const { formatAuditSummary } = await import('../audit/summary.js');
  const { loadManifestSigningKey, writeManifest } = await import('../runs/manifest.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { openReadOnlyOkta } = await import('../audit/gate.js');
  const { parseDelimiterFlag } = await import('../csv/delimiter.js');
  const out = io.out ?? process.stdout;
  const errOut = io.err ?? process.stderr;

  // ---- flags: every problem at once ----
  const problems: string[] = [];
  const warnings: string[] = [];
  const group = typeof flags.group === 'string' ? flags.group.trim() : undefined;
  if (usersFile && group !== undefined) problems.push(`<users> and --group: expected one of them, got both (${usersFile} and --group ${group})`);
  if (!usersFile && group === undefined) problems.push('<users> or --group: expected a CSV of users or --group <groupId>, got neither');
  if (group !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(group)) problems.push(`--group: expected an Okta group id (letters and digits, like 00g1ab2cd3EF4gh5ij6k), got \`${group}\``);
  const intFlag = (name: string, value: unknown, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(String(value).trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}: expected a whole number from ${min} to ${max}, got \`${String(value)}\``);
      return fallback;
    }
    return n;
  };
  const concurrency = intFlag('--concurrency', flags.concurrency, 1, 75, DEFAULT_AUDIT_CONCURRENCY);
  const pageSize = intFlag('--page-size', flags.pageSize, 1, 200, 200);
  const delimiter = typeof flags.delimiter === 'string' ? collectProblems(problems, () => parseDelimiterFlag(flags.delimiter as string)) : undefined;
  const listOptions = delimiter ? { delimiter } : {};
  const outFile = typeof flags.out === 'string' ? flags.out : '';
  if (!outFile) problems.push('--out: expected a file name for the inventory CSV, got none');
  // --concurrency means something else to the process config (jobs per queue): keep it out of there.
  const { concurrency: _c, ...processFlags } = flags;
  const config = collectProblems(problems, () => loadProcessConfig(processFlags, { env: io.env, warn: (m) => warnings.push(m) }));
  let signKey;
  if (typeof flags.signKey === 'string') {
    signKey = await collectProblemsAsync(problems, () => loadManifestSigningKey(flags.signKey as string));
  }
  if (problems.length || !config) throw new ConfigError(problems);

  // A file that names no usable user stops here, before anything is read from Okta.
  if (usersFile) await checkUserList(usersFile, listOptions);
  // Redis carries the shared rate limiter: every process reading from the org shares its budget.
  await ensureRedis(config, { purpose: 'read' });

  const logger = createLogger(config);
  for (const w of warnings) logger.warn(w);
  let readOnly;
  try {
    readOnly = await openReadOnlyOkta(config, logger);
  } catch (err) {
    logger.close();
    throw err;
  }
  const client = readOnly.okta;
  const { createProgress } = await import('../progress.js');
  // users read so far: with an active push factor / without one / not found or unreadable
  const progress = createProgress({ label: 'audit', stream: errOut as NodeJS.WritableStream & { isTTY?: boolean }, names: { activated: 'with active push', expired: 'without', failed: 'not read' } });
  let withPush = 0;
  let withoutPush = 0;
  let unread = 0;
  try {
    const users = usersFile ? usersFromList(usersFile, listOptions) : usersFromGroup(client, group!, { pageSize });
    let result;
    try {
      result = await runAudit({
        client,
        users,
        outFile,
        bom: Boolean(flags.excel),
        concurrency,
        onUser: (user, done) => {
          if (user.error) logger.warn(`user ${user.userId || user.login}: factors could not be read: ${user.error}`);
          if (user.rows.some((r) => r.factorType === 'push' && (r.status === 'ACTIVE' || r.status === 'ACTIVATED'))) withPush++;
          else if (user.found) withoutPush++;
          else unread++;
          progress.update({ done, activated: withPush, expired: withoutPush, failed: unread });
        },
      });
    } catch (err) {
      progress.stop();
      if (err instanceof OktaApiError && err.status === 401) {
        const what = config.authMode === 'oauth' ? 'the service app\'s access token' : 'the API token';
        const hint = config.authMode === 'oauth' ? 'Check --client-id, --private-key, --scopes and --org-url.' : 'Check OKTA_API_TOKEN / --token-file and --org-url.';
        throw new FatalRunError(`Okta rejected ${what} (${err.errorCode}: ${err.errorSummary}); no inventory was written.`, hint);
      }
      if (err instanceof ForeignOriginError || err instanceof InsecureTransportError) throw new FatalRunError(`${err.message}; no inventory was written.`);
      throw err;
    }
    progress.stop();
    const summary = {
      users: result.users,
      read: result.read,
      notFound: result.notFound,
      errors: result.errors,
      rows: result.rows,
      byFactorType: result.byFactorType,
      activePushUsers: result.activePushUsers,
      activePushShare: Number(result.activePushShare.toFixed(4)),
      ...(group ? { group } : {}),
    };
    const manifest = await writeManifest({
      command: 'audit',
      // The effective org and namespace, whether they came from flags or the environment.
      options: { ...flags, orgUrl: config.orgUrl, auth: config.authMode, prefix: config.prefix },
      startedAt,
      state: result.errors ? 'incomplete' : 'complete',
      ...(usersFile ? { input: usersFile } : {}),
      reportPath: outFile,
      counts: result.byStatus,
      summary,
      ...(signKey ? { signKey } : {}),
    });
    out.write(`${formatAuditSummary(result)}\nInventory: ${outFile}\nManifest: ${manifest.file}${signKey ? ' (signed)' : ''}\n`);
    logger.info('audit finished', { users: result.users, rows: result.rows, out: outFile });
    if (result.errors) {
      throw new ExitError(
        EXIT.FATAL,
        `${result.errors} user${result.errors > 1 ? 's' : ''} could not be read (inventory rows with status ERROR; the reasons are in the log).`,
      );
    }
    return { ...result, manifestPath: manifest.file };
  } finally {
    await readOnly.close();
    logger.close();
  }
}
