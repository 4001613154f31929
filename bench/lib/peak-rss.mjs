/**
 * Preloaded into CLI processes the bench spawns (`node --import bench/lib/peak-rss.mjs
 * dist/src/cli.js …`; plain JavaScript so it needs no loader): on exit, writes the process's peak resident
 * set size in bytes (getrusage ru_maxrss, the kernel's VmHWM) to $BENCH_PEAK_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
  });
}
