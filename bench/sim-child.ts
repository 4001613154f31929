/**
 * The Okta simulator in a process of its own, so that in the bench it does not share
 * an event loop (and a core) with the runner it is measuring. Options come as JSON in
 * argv[2]; prints `listening on <url>` when ready; stops on SIGTERM / SIGINT or when
 * its parent goes away (stdin closes).
 */
import { startSimulator, type SimulatorOptions } from '../src/simulator/index.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Partial<SimulatorOptions>;
const sim = await startSimulator(options);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void sim.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.stdout.write(`listening on ${sim.url}\n`);
