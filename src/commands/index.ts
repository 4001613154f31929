/**
 * The list of commands. Each module exports register(program): it declares the
 * command, its flags and help, and imports its implementation lazily in the action,
 * so `bulk-enroll validate` never loads BullMQ and `--help` stays fast.
 */
import type { Command } from 'commander';
import { register as run } from './run.js';
import { register as enqueue } from './enqueue.js';
import { register as worker } from './worker.js';
import { register as status } from './status.js';
import { register as report } from './report.js';
import { register as resume } from './resume.js';
import { register as demo } from './demo.js';
import { register as simulator } from './simulator.js';
import { register as validate } from './validate.js';
import { register as audit } from './audit.js';
import { register as verify } from './verify.js';
import { register as dashboard } from './dashboard.js';
import { register as reenroll } from './reenroll.js';
import { register as schedule } from './schedule.js';
import { register as runState } from './run-state.js';

const registrations: Array<(program: Command) => void> = [run, enqueue, worker, status, report, resume, validate, demo, simulator, audit, verify, dashboard, reenroll, schedule, runState];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
