/**
 * The task list: every job handler, by the name of its queue. Commands that start a
 * runtime with workers hand this over (startRuntime({ tasks })); the runtime itself
 * never imports jobs/.
 */
import type { Tasks } from '../src/queue/tasks.js';
import { processEnroll } from './enroll.js';
import { processNightly } from './nightly.js';
import { processPoll } from './poll.js';

export const tasks: Tasks = { enroll: processEnroll, poll: processPoll, nightly: processNightly };
