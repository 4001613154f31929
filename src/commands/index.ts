/**
 * The list of commands. Each module exports register(program): it declares the
 * command, its flags and help, and imports its implementation lazily in the action,
 * so `bulk-enroll validate` never loads BullMQ and `--help` stays fast.
 */
import type { Command } from 'commander';
import { register as simulator } from './simulator.js';
import { register as validate } from './validate.js';

const registrations: Array<(program: Command) => void> = [simulator, validate];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
