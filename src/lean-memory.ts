/**
 * For the commands that only stream a file (validate, enqueue): ask V8 to keep its heap
 * small. Their live memory is bounded by design (one row at a time, one pipeline of rows
 * to Redis), but V8's default heap growth lets garbage pile up to twice that before it
 * collects: a million-row file peaked near 200 MB of RSS, and about 100 MB with this.
 * It costs some speed (more frequent collections); worker processes, where speed
 * matters, keep V8's defaults.
 */
import { setFlagsFromString } from 'node:v8';

export function preferSmallHeap(): void {
  setFlagsFromString('--optimize-for-size');
}
