/**
 * The temporary files of this process that hold user data (a report being written
 * before its rename, standard input spooled to disk), so that none outlives it. They
 * are removed when the process ends normally or through process.exit (src/shutdown.ts's
 * forced exits call removeTempFiles() first), and on SIGINT / SIGTERM when no other
 * handler owns the signal: then the files go and the signal is raised again, so the
 * process still ends the way the signal asks. SIGHUP is not handled: under nohup it must
 * stay ignored. Only SIGKILL (or a power cut) can leave one behind.
 */
import { unlinkSync } from 'node:fs';

const files = new Set<string>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

function onSignal(signal: NodeJS.Signals): void {
  // Another handler (src/shutdown.ts) decides what this signal does; its exit comes back through 'exit'.
  if (process.listenerCount(signal) > 1) return;
  removeTempFiles();
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', removeTempFiles);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  process.off('exit', removeTempFiles);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Remember `path` for removal at exit; call before the file is created, so that no
 * moment exists where it is on disk and not listed. Returns the function that forgets
 * it again (after the file was renamed into place or removed).
 */
export function trackTempFile(path: string): () => void {
  if (files.size === 0) install();
  files.add(path);
  return () => {
    if (files.delete(path) && files.size === 0) uninstall();
  };
}

/** Remove every listed temporary file now (synchronously: also safe right before process.exit). */
export function removeTempFiles(): void {
  for (const f of files) {
    try {
      unlinkSync(f);
    } catch {
      // already renamed into place, or never created
    }
  }
  files.clear();
  uninstall();
}

/** The files listed now (for tests and diagnostics). */
export function trackedTempFiles(): string[] {
  return [...files];
}
