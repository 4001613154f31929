/**
 * poll job: follow a pending activation (its poll link, else a GET of the factor: never
 * a request with side effects) until the user has scanned (activated) or the activation
 * expired. The job continues as itself, delayed, between polls; a final outcome is
 * written once and a later poll never overwrites it. Decisions: src/rows/lifecycle.ts.
 */
import type { RowTask } from '../src/queue/tasks.js';
import { driveRow } from './drive.js';

export const processPoll: RowTask = (data, ctx, deps) => driveRow(data, { ...ctx, kind: 'poll' }, deps);
