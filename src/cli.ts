#!/usr/bin/env node
/**
 * bulk-enroll's entry point: declares the commands and nothing else. Each command's
 * module registers its flags and loads its implementation lazily. This is the only
 * place that ends the process: commands throw ExitError / ConfigError / InputFileError.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, ExitError, FatalRunError, InputFileError, EXIT } from './errors.js';
import { redact } from './logger.js';
import { registerCommands } from './commands/index.js';
import { packageVersion } from './okta/user-agent.js';

const program = new Command();
program
  .name('bulk-enroll')
  .description('Enroll Okta push MFA factors for thousands of users from a CSV, with one outcome per row.')
  // The same version the run manifests and the User-Agent carry.
  .version(packageVersion(), '-V, --version', 'print the version of bulk-enroll')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

registerCommands(program);

// An input file problem means "nothing was enqueued" only to the commands that enqueue.
let command = '';
program.hook('preAction', (_program, action) => {
  command = action.name();
});
const INPUT_PROBLEM_OUTCOME: Record<string, string> = {
  run: 'Nothing was enqueued.',
  enqueue: 'Nothing was enqueued.',
  reenroll: 'Nothing was enqueued.',
  schedule: 'Nothing was enqueued.',
  audit: 'Nothing was read from Okta.',
};

function fail(code: number, message: string): never {
  if (message) process.stderr.write(`${redact(message)}\n`);
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
  // Commands that keep running (worker, simulator, dashboard) resolve only when they are done.
  process.exitCode = process.exitCode ?? EXIT.OK;
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed the message; help/version are exit 0.
    fail(err.exitCode === 0 ? 0 : EXIT.USAGE, '');
  } else if (err instanceof ExitError) {
    fail(err.code, err.message);
  } else if (err instanceof ConfigError) {
    fail(EXIT.USAGE, err.message);
  } else if (err instanceof InputFileError) {
    const outcome = INPUT_PROBLEM_OUTCOME[command];
    fail(EXIT.USAGE, `Input file problem: ${err.message}${outcome ? `\n${outcome}` : ''}`);
  } else if (err instanceof FatalRunError) {
    fail(EXIT.FATAL, `Fatal: ${err.message}${err.hint ? `\n${err.hint}` : ''}`);
  } else {
    const e = err as Error;
    const debug = process.env.BULK_ENROLL_DEBUG === '1';
    fail(EXIT.FATAL, `Unexpected error: ${e?.message ?? String(err)}${debug && e?.stack ? `\n${e.stack}` : '\n(set BULK_ENROLL_DEBUG=1 for details)'}`);
  }
}
