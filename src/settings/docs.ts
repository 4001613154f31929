/**
 * docs/settings.md, made from the settings table: one table per group with each flag, its
 * environment variable, its default and what it does. `npm run docs:settings` writes it;
 * test/settings/settings.test.ts fails when the file and the table disagree.
 */
import type { Setting, SettingGroup } from './define.js';
import { flagName } from './define.js';
import { defaultOf } from './commander.js';
import { ALL_SETTINGS, ENVIRONMENT_ONLY } from './table.js';

const GROUPS: ReadonlyArray<[SettingGroup, string, string]> = [
  ['okta', 'Okta', 'run, resume, reenroll, worker, audit, doctor, dashboard (reads)'],
  ['redis', 'Redis', 'every command but validate'],
  ['workers', 'Rate limits and workers', 'run, resume, reenroll, worker'],
  ['run', 'Run settings', 'run, enqueue, reenroll, schedule: stored with the run and honoured by every worker'],
  ['log', 'Logging', 'every long-running command'],
  ['close', 'Stopping', 'run, resume, reenroll, worker, dashboard'],
  ['metrics', 'Metrics and health', 'run, worker'],
];

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function settingsMarkdown(): string {
  const out: string[] = [
    '# Settings',
    '',
    'Every setting of bulk-enroll: a flag, the environment variable that sets it when the flag',
    'is not given, and its default. Flags win over the environment. Every problem in a',
    'configuration is listed at once. Booleans in the environment read true/false, 1/0,',
    'yes/no or on/off. This page is made from `src/settings/table.ts` (`npm run docs:settings`).',
    '',
  ];
  for (const [group, title, who] of GROUPS) {
    out.push(`## ${title}`, '', `Taken by: ${who}.`, '', '| flag | environment | default | meaning |', '| --- | --- | --- | --- |');
    for (const s of Object.values(ALL_SETTINGS) as Array<Setting<unknown>>) {
      if (s.group !== group) continue;
      const flag = s.negatable ? `\`${s.flag}\`, \`--no-${flagName(s.flag).slice(2)}\`` : `\`${s.flag}\``;
      out.push(`| ${flag} | ${s.env ? `\`${s.env}\`` : ''} | ${cell(defaultOf(s) ?? '')} | ${cell(s.help)} |`);
    }
    out.push('');
  }
  out.push('## Environment only', '', '| variable | meaning |', '| --- | --- |');
  for (const e of ENVIRONMENT_ONLY) out.push(`| \`${e.env}\` | ${cell(e.help)} |`);
  out.push('');
  return out.join('\n');
}

/** Every environment variable the settings read, for checks against samples/.env.example. */
export function settingEnvNames(): string[] {
  return [...(Object.values(ALL_SETTINGS) as Array<Setting<unknown>>).flatMap((s) => (s.env ? [s.env] : [])), ...ENVIRONMENT_ONLY.map((e) => e.env)];
}
