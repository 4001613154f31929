/**
 * The commands' flags, made from the settings table: a command takes the groups it needs
 * (`addSettings(cmd, 'okta', 'redis')`) and every flag says its environment variable and
 * default in its help. Values are checked when the configuration is loaded (src/config.ts),
 * all problems together, not by commander.
 */
import type { Command } from 'commander';
import type { Setting, SettingGroup } from './define.js';
import { flagName } from './define.js';
import { ALL_SETTINGS } from './table.js';

export function defaultOf(s: Setting<unknown>): string | undefined {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.default === undefined || s.default === false) return undefined;
  return Array.isArray(s.default) ? s.default.join(' ') : String(s.default);
}

export function helpOf(s: Setting<unknown>): string {
  const extra = [s.env ? `env ${s.env}` : '', defaultOf(s) !== undefined ? `default ${defaultOf(s)}` : ''].filter(Boolean).join('; ');
  return extra ? `${s.help} (${extra})` : s.help;
}

export function addSettings(cmd: Command, ...groups: SettingGroup[]): Command {
  for (const s of Object.values(ALL_SETTINGS) as Array<Setting<unknown>>) {
    if (!groups.includes(s.group)) continue;
    cmd.option(s.flag, helpOf(s));
    if (s.negatable) cmd.option(`--no-${flagName(s.flag).slice(2)}`, `the opposite of ${flagName(s.flag)}`);
  }
  return cmd;
}
