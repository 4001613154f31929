/**
 * `bulk-enroll simulator`: a local Okta org for tests and demos. Prints exactly one
 * line on stdout, `listening on http://127.0.0.1:PORT`, when ready, then serves until
 * SIGINT / SIGTERM and closes cleanly.
 */
import type { Command } from 'commander';
import type { SimulatorHandle, SimulatorOptions } from '../simulator/index.js';

export interface SimulatorFlags {
  dialect?: string;
  port?: string;
  host?: string;
  token?: string;
  onDuplicate?: string;
  rateLimit?: string;
  rateWindowMs?: string;
  usersRateLimit?: string;
  groupsRateLimit?: string;
  logsRateLimit?: string;
  concurrencyLimit?: string;
  usersCsv?: string;
  groupsCsv?: string;
  users?: string;
  activateRatio?: string;
  activateAfterMs?: string;
  activationTtlMs?: string;
  activationAttemptLimit?: string;
  activationAttemptWindowMs?: string;
  smsIntervalMs?: string;
  latencyMs?: string;
  errorRate?: string;
  resetRate?: string;
  seed?: string;
  linkBase?: string;
  oauthClientId?: string;
  oauthPublicKey?: string;
  oauthScopes?: string;
  oauthTokenTtlMs?: string;
  oauthDpop?: boolean;
  oauthRateLimit?: string;
}

export function register(program: Command): void {
  program
    .command('simulator')
    .description('run a local Okta simulator (factors, users, groups, System Log) until stopped')
    .option('--dialect <name>', 'okta (today\'s API: 200, POST poll) or seed (the seed document: 301, GET poll)', 'okta')
    .option('--port <n>', 'port; 0 picks a free one', '0')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--token <token>', 'accepted API token (default: any non-empty SSWS token)')
    .option('--on-duplicate <policy>', 'second enrollment of a factor type: reject | replace | allow', 'reject')
    .option('--rate-limit <n>', 'requests per window for factor operations (and other buckets by default)', '600')
    .option('--rate-window-ms <ms>', 'rate-limit window', '60000')
    .option('--users-rate-limit <n>', 'requests per window for /api/v1/users/{idOrLogin} (default: --rate-limit)')
    .option('--groups-rate-limit <n>', 'requests per window for /api/v1/groups (default: --rate-limit)')
    .option('--logs-rate-limit <n>', 'requests per window for /api/v1/logs', '60')
    .option('--concurrency-limit <n>', 'simultaneous requests before 429 with X-Rate-Limit-Limit: 0', '75')
    .option('--users-csv <file>', 'directory: id,login[,activation][,group][,email][,phone]')
    .option('--groups-csv <file>', 'group names: id,name')
    .option('--users <n>', 'generated users (user0001@example.com …) when no --users-csv', '100')
    .option('--activate-ratio <x>', 'share of users without an activation column who scan', '0.8')
    .option('--activate-after-ms <min-max>', 'when such users scan after an attempt starts', '2000-30000')
    .option('--activation-ttl-ms <ms>', 'lifetime of a push activation (Okta: 10 minutes)', '600000')
    .option('--activation-attempt-limit <n>', 'lifecycle/activate calls per factor per window', '5')
    .option('--activation-attempt-window-ms <ms>', 'window of the activation attempt limit', '300000')
    .option('--sms-interval-ms <ms>', 'one activation SMS per phone number per interval', '30000')
    .option('--latency-ms <ms|min-max>', 'added latency per request', '0')
    .option('--error-rate <x>', 'share of requests answered 500/503 unprocessed', '0')
    .option('--reset-rate <x>', 'share of requests processed, then answered by a reset connection', '0')
    .option('--seed <n>', 'seed of every random choice', '1')
    .option('--link-base <url>', 'origin written into Location and _links (default: the simulator\'s own)')
    .option('--oauth-client-id <id>', 'OAuth 2.0 service app client id (with --oauth-public-key: enables POST /oauth2/v1/token)')
    .option('--oauth-public-key <file>', 'the service app\'s public key, PEM or JWK JSON, that verifies client assertions')
    .option('--oauth-scopes <list>', 'scopes granted to the app, space or comma separated (default: okta.users.manage okta.users.read okta.groups.read okta.logs.read)')
    .option('--oauth-token-ttl-ms <ms>', 'access token lifetime', '3600000')
    .option('--oauth-dpop', 'require DPoP proofs and nonces on token and API requests')
    .option('--oauth-rate-limit <n>', 'token requests per window (default: --rate-limit)')
    .action(async (flags: SimulatorFlags) => {
      await simulatorCommand(flags);
    });
}

const FLAG_OF: Record<string, string> = {};

/** Turns the flags into SimulatorOptions; every problem is listed in one ConfigError. */
export async function optionsFromFlags(flags: SimulatorFlags): Promise<Partial<SimulatorOptions>> {
  const { ConfigError } = await import('../errors.js');
  const { resolveOptions } = await import('../simulator/index.js');
  const problems: string[] = [];
  type StringFlag = Exclude<keyof SimulatorFlags, 'oauthDpop'>;
  const num = (name: StringFlag, flag: string): number | undefined => {
    FLAG_OF[name] = flag;
    const raw = flags[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) {
      problems.push(`${flag}: expected a number, got \`${raw}\``);
      return undefined;
    }
    return n;
  };
  const range = (name: StringFlag, flag: string, allowSingle: boolean): number | [number, number] | undefined => {
    FLAG_OF[name] = flag;
    const raw = flags[name];
    if (raw === undefined) return undefined;
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(raw);
    if (!m || (!allowSingle && m[2] === undefined)) {
      problems.push(`${flag}: expected ${allowSingle ? 'milliseconds or a range MIN-MAX' : 'a range MIN-MAX in milliseconds'}, got \`${raw}\``);
      return undefined;
    }
    return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
  };
  const after = range('activateAfterMs', '--activate-after-ms', true);
  let oauthPublicKey: string | undefined;
  if (flags.oauthPublicKey !== undefined) {
    const { readFileSync } = await import('node:fs');
    try {
      oauthPublicKey = readFileSync(flags.oauthPublicKey, 'utf8');
    } catch (err) {
      problems.push(`--oauth-public-key: cannot read ${flags.oauthPublicKey} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const oauthScopes = flags.oauthScopes === undefined ? undefined : flags.oauthScopes.split(/[\s,]+/).filter(Boolean);
  const partial: Partial<SimulatorOptions> = {
    dialect: flags.dialect as SimulatorOptions['dialect'],
    host: flags.host,
    token: flags.token,
    onDuplicate: flags.onDuplicate as SimulatorOptions['onDuplicate'],
    usersCsv: flags.usersCsv,
    groupsCsv: flags.groupsCsv,
    linkBase: flags.linkBase,
    port: num('port', '--port'),
    rateLimit: num('rateLimit', '--rate-limit'),
    rateWindowMs: num('rateWindowMs', '--rate-window-ms'),
    usersRateLimit: num('usersRateLimit', '--users-rate-limit'),
    groupsRateLimit: num('groupsRateLimit', '--groups-rate-limit'),
    logsRateLimit: num('logsRateLimit', '--logs-rate-limit'),
    concurrencyLimit: num('concurrencyLimit', '--concurrency-limit'),
    users: num('users', '--users'),
    activateRatio: num('activateRatio', '--activate-ratio'),
    activateAfterMs: typeof after === 'number' ? [after, after] : after,
    activationTtlMs: num('activationTtlMs', '--activation-ttl-ms'),
    activationAttemptLimit: num('activationAttemptLimit', '--activation-attempt-limit'),
    activationAttemptWindowMs: num('activationAttemptWindowMs', '--activation-attempt-window-ms'),
    smsIntervalMs: num('smsIntervalMs', '--sms-interval-ms'),
    latencyMs: range('latencyMs', '--latency-ms', true),
    errorRate: num('errorRate', '--error-rate'),
    resetRate: num('resetRate', '--reset-rate'),
    seed: num('seed', '--seed'),
    oauthClientId: flags.oauthClientId,
    oauthPublicKey,
    oauthScopes,
    oauthTokenTtlMs: num('oauthTokenTtlMs', '--oauth-token-ttl-ms'),
    oauthDpop: flags.oauthDpop === true ? true : undefined,
    oauthRateLimit: num('oauthRateLimit', '--oauth-rate-limit'),
  };
  Object.assign(FLAG_OF, {
    dialect: '--dialect',
    host: '--host',
    token: '--token',
    onDuplicate: '--on-duplicate',
    linkBase: '--link-base',
    oauthClientId: '--oauth-client-id',
    oauthPublicKey: '--oauth-public-key',
    oauthScopes: '--oauth-scopes',
    oauthDpop: '--oauth-dpop',
  });
  try {
    resolveOptions(partial);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) {
      const m = /^Expected `(\w+)` to be (.*)$/.exec(p);
      problems.push(m && FLAG_OF[m[1]!] ? `${FLAG_OF[m[1]!]}: expected ${m[2]}` : p);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return partial;
}

export async function simulatorCommand(
  flags: SimulatorFlags,
  io: { stdout?: (line: string) => void; stop?: Promise<unknown>; onReady?: (sim: SimulatorHandle) => void } = {},
): Promise<void> {
  const partial = await optionsFromFlags(flags);
  const { startSimulator } = await import('../simulator/index.js');
  const sim = await startSimulator(partial);
  const o = sim.options;
  process.stderr.write(
    `Okta simulator (${o.dialect} dialect): ${sim.stats().users} users, ${o.rateLimit} requests per ${o.rateWindowMs} ms, ` +
      `concurrency ${o.concurrencyLimit}, on duplicate ${o.onDuplicate}; inspection at ${sim.url}/__sim/stats\n`,
  );
  if (o.oauthClientId) {
    process.stderr.write(
      `OAuth 2.0 service app ${o.oauthClientId}: scopes ${o.oauthScopes.join(' ')}, tokens live ${o.oauthTokenTtlMs} ms${o.oauthDpop ? ', DPoP required' : ''}\n`,
    );
  }
  (io.stdout ?? ((l: string) => process.stdout.write(`${l}\n`)))(`listening on ${sim.url}`);
  io.onReady?.(sim);
  let onSignal: (() => void) | undefined;
  const signalled = new Promise<void>((resolve) => {
    onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  try {
    await Promise.race([signalled, ...(io.stop ? [io.stop] : [])]);
  } finally {
    if (onSignal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await sim.close();
  }
}
