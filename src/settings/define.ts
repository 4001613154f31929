/**
 * The shape of one setting (a flag, its environment variable, its default, how it is
 * parsed and checked, its help) and how a group of them is read: flag first, then the
 * environment, then the default; every problem collected, each naming the flag and the
 * variable ("--rate-limit / BULK_ENROLL_RATE_LIMIT: expected a whole number from 1, got `x`").
 */
import type { Parse } from './parse.js';

/** Which commands take a setting (src/settings/commander.ts adds a group's flags to a command). */
export type SettingGroup = 'okta' | 'redis' | 'workers' | 'log' | 'close' | 'metrics' | 'run';

export interface Setting<T> {
  /** `--rate-limit <perMinute>`; a boolean flag has no argument. */
  flag: string;
  /** The environment variable, if the setting has one. */
  env?: string;
  default?: T;
  /** The default as the help and the docs say it, when it is not a plain value (derived, or "off"). */
  defaultText?: string;
  parse: Parse<T>;
  help: string;
  group: SettingGroup;
  /** A boolean that also takes `--no-<flag>` (the default says which one wins). */
  negatable?: boolean;
  /** A secret (a file path is not, the token is): never shown with a value in docs or messages. */
  secret?: boolean;
}

export function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

export type SettingsTable = Record<string, Setting<unknown>>;

/** The camelCase key commander gives a flag: --rate-limit → rateLimit. */
export function flagKey(flag: string): string {
  const name = flag.replace(/^--(no-)?/, '').split(/[\s<[]/)[0]!;
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `--rate-limit` (without the argument). */
export function flagName(flag: string): string {
  return flag.split(/[\s<[]/)[0]!;
}

export function labelOf(s: Setting<unknown>): string {
  return `${flagName(s.flag)}${s.env ? ` / ${s.env}` : ''}`;
}

export type Values<S extends SettingsTable> = { [K in keyof S]: S[K] extends Setting<infer T> ? T | undefined : never };

/**
 * Read every setting of `table` from flags (commander's camelCase keys) and the environment
 * (empty variables count as unset). Problems are pushed, never thrown; a setting with a
 * problem reads as its default.
 */
export function readSettings<S extends SettingsTable>(table: S, flags: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const fromFlag = flags[flagKey(s.flag)];
    const fromEnv = s.env !== undefined && env[s.env] !== undefined && env[s.env] !== '' ? env[s.env] : undefined;
    const raw = fromFlag ?? fromEnv;
    if (raw === undefined || raw === null) {
      out[key] = s.default;
      continue;
    }
    const parsed = s.parse(raw as string | boolean | number);
    if ('problem' in parsed) {
      problems.push(`${labelOf(s)}: ${parsed.problem}`);
      out[key] = s.default;
    } else out[key] = parsed.value;
  }
  return out as Values<S>;
}

/** Whether a setting was given at all (by flag or environment), for checks like "only with --log-file". */
export function given(s: Setting<unknown>, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): boolean {
  return flags[flagKey(s.flag)] !== undefined || (s.env !== undefined && env[s.env] !== undefined && env[s.env] !== '');
}
