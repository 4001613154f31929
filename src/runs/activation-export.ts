/**
 * --export-activation <file>: for users who have neither email nor phone, an admin may
 * need the activation material itself (QR code link, barcode, TOTP secret, activation
 * links). It goes to this one file only: created owner-only (0600), appended as CSV,
 * with a warning on the console of what the file is. Never to Redis, logs or reports.
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import type { ActivationExport } from '../queue/tasks.js';
import { neutraliseCell } from '../csv/report.js';

export const EXPORT_COLUMNS = ['runId', 'row', 'userId', 'login', 'factorId', 'qrcode', 'barcode', 'appStore', 'sharedSecret', 'emailLink', 'smsLink'] as const;

export interface ActivationExporter {
  write(entry: ActivationExport): void;
  close(): void;
}

export function openActivationExport(file: string, warn: (msg: string) => void): ActivationExporter {
  const fd = openSync(file, 'a', 0o600);
  fchmodSync(fd, 0o600);
  warn(
    `Writing activation material (QR codes, activation links, secrets) to ${file}. Anyone holding this file can bind a device to these users' accounts: ` +
      'hand each entry over securely and delete the file when done.',
  );
  writeSync(fd, stringify([EXPORT_COLUMNS as unknown as string[]]));
  return {
    write(e) {
      const s = e.secrets;
      const cells = [
        e.runId,
        String(e.row),
        e.userId,
        e.login ?? '',
        e.factorId,
        s.qrcodeHref ?? '',
        s.barcode ?? '',
        s.appStore ?? '',
        s.sharedSecret ?? '',
        s.send?.find((l) => l.name === 'email')?.href ?? '',
        s.send?.find((l) => l.name === 'sms')?.href ?? '',
      ].map(neutraliseCell);
      writeSync(fd, stringify([cells]));
    },
    close() {
      closeSync(fd);
    },
  };
}
