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
  listShape?: string;
  restartShape?: string;
  pollLink?: string;
  logDebugData?: string;
  logTargets?: string;
  refuseFactor?: string[];
  readOnly?: boolean;
  strictBodies?: boolean;
  oieBundle?: boolean;
  hugeBodyBytes?: string;
  hugeBodyCount?: string;
  hugeBodyRate?: string;
  absurdReset?: string;
  echoToken?: boolean;
  duplicateRateLimitHeaders?: boolean;
  clockOffsetMs?: string;
}

type SwitchFlag = 'oauthDpop' | 'readOnly' | 'strictBodies' | 'oieBundle' | 'echoToken' | 'duplicateRateLimitHeaders';
type StringFlag = Exclude<keyof SimulatorFlags, SwitchFlag | 'refuseFactor'>;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

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
    .option('--users-csv <file>', 'directory: id,login[,activation][,group][,email][,phone][,status][,timezone][,traits][,factors] (see docs/simulator.md)')
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
    .option('--list-shape <shape>', 'how lists and GET show a push that is not active: expired | pending-next | pending-activate', 'expired')
    .option('--restart-shape <shape>', 'what lifecycle/activate answers for a push: factor | activation (the Push Factor Activation object alone)', 'factor')
    .option('--poll-link <link>', 'the enroll answer\'s poll link: poll (…/lifecycle/activate/poll) | activate (…/lifecycle/activate)', 'poll')
    .option('--log-debug-data <on|off>', 'activation events carry debugContext.debugData.factor', 'on')
    .option('--log-targets <targets>', 'activation events\' targets: user+enrollment | user', 'user+enrollment')
    .option('--refuse-factor <type>', 'the Multifactor policy refuses enrolls of this factor type (repeatable)', collect)
    .option('--read-only', 'read-only mode: POST/PUT/DELETE under /api/v1 answer 503 E0000010')
    .option('--strict-bodies', 'properties the spec does not define answer 400 E0000003; JSON under another Content-Type 415')
    .option('--oie-bundle', 'Identity Engine: a push enroll also enrolls totp and signed_nonce; deleting one Okta Verify factor deletes all')
    .option('--huge-body-bytes <n>', 'pad answers to factor calls with whitespace to this many bytes (0: off)')
    .option('--huge-body-count <n>', 'with --huge-body-bytes: only the next N factor answers')
    .option('--huge-body-rate <x>', 'with --huge-body-bytes: this share of factor answers')
    .option('--absurd-reset <n>', 'the next N factor requests get 429 with X-Rate-Limit-Reset ten years ahead', '0')
    .option('--echo-token', 'error summaries echo the first 16 characters of the Authorization credential')
    .option('--duplicate-rate-limit-headers', 'send each X-Rate-Limit-* header twice, the second more generous')
    .option('--clock-offset-ms <ms>', 'the org\'s clock minus real time (Date, created, expiresAt, published, X-Rate-Limit-Reset)', '0')
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
  let logDebugData: boolean | undefined;
  if (flags.logDebugData !== undefined) {
    const v = flags.logDebugData.trim().toLowerCase();
    if (v === 'on' || v === 'off') logDebugData = v === 'on';
    else problems.push(`--log-debug-data: expected on or off, got \`${flags.logDebugData}\``);
  }
  const on = (v: boolean | undefined): true | undefined => (v === true ? true : undefined);
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
    oauthDpop: on(flags.oauthDpop),
    oauthRateLimit: num('oauthRateLimit', '--oauth-rate-limit'),
    listShape: flags.listShape as SimulatorOptions['listShape'],
    restartShape: flags.restartShape as SimulatorOptions['restartShape'],
    pollLink: flags.pollLink as SimulatorOptions['pollLink'],
    logDebugData,
    logTargets: flags.logTargets as SimulatorOptions['logTargets'],
    refuseFactorTypes: flags.refuseFactor,
    readOnly: on(flags.readOnly),
    strictBodies: on(flags.strictBodies),
    oieBundle: on(flags.oieBundle),
    hugeBodyBytes: num('hugeBodyBytes', '--huge-body-bytes'),
    hugeBodyCount: num('hugeBodyCount', '--huge-body-count'),
    hugeBodyRate: num('hugeBodyRate', '--huge-body-rate'),
    absurdReset: num('absurdReset', '--absurd-reset'),
    echoToken: on(flags.echoToken),
    duplicateRateLimitHeaders: on(flags.duplicateRateLimitHeaders),
    clockOffsetMs: num('clockOffsetMs', '--clock-offset-ms'),
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
    listShape: '--list-shape',
    restartShape: '--restart-shape',
    pollLink: '--poll-link',
    logDebugData: '--log-debug-data',
    logTargets: '--log-targets',
    refuseFactorTypes: '--refuse-factor',
    readOnly: '--read-only',
    strictBodies: '--strict-bodies',
    oieBundle: '--oie-bundle',
    echoToken: '--echo-token',
    duplicateRateLimitHeaders: '--duplicate-rate-limit-headers',
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
  const shapes = [
    o.listShape !== 'expired' ? `list shape ${o.listShape}` : '',
    o.restartShape !== 'factor' ? `restart shape ${o.restartShape}` : '',
    o.pollLink !== 'poll' ? `poll link ${o.pollLink}` : '',
    !o.logDebugData ? 'no debugData in events' : '',
    o.logTargets !== 'user+enrollment' ? 'event targets: the user only' : '',
    o.refuseFactorTypes.length ? `policy refuses ${o.refuseFactorTypes.join(', ')}` : '',
    o.readOnly ? 'read-only mode' : '',
    o.strictBodies ? 'strict bodies' : '',
    o.oieBundle ? 'Okta Verify bundle' : '',
    o.clockOffsetMs ? `clock offset ${o.clockOffsetMs} ms` : '',
  ].filter(Boolean);
  if (shapes.length) process.stderr.write(`Org behaviour: ${shapes.join(', ')}; faults at ${sim.url}/__sim/faults\n`);
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
