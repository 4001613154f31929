/**
 * enroll job: one input row → one push (or sms/call/email) factor at Okta, its
 * activation delivered, and the row handed to the poll job (or the System Log watcher)
 * to follow. What happens at each step is decided by the row lifecycle
 * (src/rows/lifecycle.ts); this handler only runs it for the enroll queue.
 */
import type { RowTask } from '../src/queue/tasks.js';
import { driveRow } from './drive.js';

export const processEnroll: RowTask = (data, ctx, deps) => driveRow(data, { ...ctx, kind: 'enroll' }, deps);
