/**
 * Flags shared by several commands. Settings (flags with an environment variable and a
 * default) come from the one settings table (src/settings/table.ts); the rest here are
 * per-invocation flags of the commands that read a CSV or write a report. Values are
 * checked in src/config.ts (all problems listed together), not here.
 */
import { Option, type Command } from 'commander';
import { addSettings } from '../settings/commander.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addRedisOptions(cmd: Command): Command {
  return addSettings(cmd, 'redis');
}

export function addOktaOptions(cmd: Command): Command {
  return addSettings(cmd, 'okta');
}

/** Everything a process that calls Okta and works on runs takes. */
export function addProcessOptions(cmd: Command): Command {
  return addSettings(cmd, 'okta', 'redis', 'workers', 'log', 'close');
}

/** Logging: level, console format, and the optional rotated log file. */
export function addLogOptions(cmd: Command): Command {
  return addSettings(cmd, 'log');
}

/** Every long-running command: one bound on how long a stop may take. */
export function addCloseTimeoutOption(cmd: Command): Command {
  return addSettings(cmd, 'close');
}

/** `worker` and `run`: the Prometheus /metrics and /healthz endpoint. */
export function addMetricsOptions(cmd: Command): Command {
  return addSettings(cmd, 'metrics');
}

/** Run settings: stored with the run and honoured by every worker. */
export function addRunSettingOptions(cmd: Command): Command {
  return addSettings(cmd, 'run');
}

/** How the input CSV is read: its delimiter, and whether columns that are not input columns are accepted. */
export function addInputOptions(cmd: Command, opts: { unknownColumnsIgnored?: boolean } = {}): Command {
  return cmd
    .option(
      '--allow-unknown-columns',
      opts.unknownColumnsIgnored
        ? 'accepted for scripts that pass it everywhere: this command always ignores the columns it does not read'
        : "accept and ignore columns that are not input columns (an HR export's department; an Okta user export is read by its Username / ID)",
    )
    .option('--delimiter <char>', 'column delimiter of the CSV: , ; tab or | (default: detected from the header line)');
}

/** Flags of commands that write an outcome report, inventory or plan CSV. */
export function addReportOptions(cmd: Command): Command {
  return cmd.option('--excel', 'start the CSV with a UTF-8 byte order mark, so that Excel shows names like Jürgen right');
}

export function addFilterOptions(cmd: Command): Command {
  addInputOptions(cmd);
  return cmd
    .addOption(new Option('--match <column=regex>', 'take only rows whose column matches (repeatable)').argParser(collect))
    .addOption(new Option('--skip <column=regex>', 'leave out rows whose column matches (repeatable)').argParser(collect))
    .option('--max-rows <n>', 'take at most this many rows');
}
