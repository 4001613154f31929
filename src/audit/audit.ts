/**
 * The audit: for each user of a stream (a CSV's users or a group's members), read the
 * factors through the given client (its gate is the shared rate limiter), at most
 * `concurrency` users at once, and stream the inventory CSV in the source's order.
 * Memory holds only the users in flight, never the whole inventory.
 */
import { writeCsv } from '../csv/report.js';
import type { OktaClient } from '../okta/types.js';
import { INVENTORY_COLUMNS, inventoryOf, type InventoryRow, type UserInventory } from './inventory.js';
import { mapOrdered } from './map-ordered.js';
import type { RetryOptions } from './retry.js';
import type { AuditSubject } from './sources.js';
import { AuditTally, type AuditSummary } from './summary.js';

export const DEFAULT_AUDIT_CONCURRENCY = 8;

export interface AuditOptions {
  client: OktaClient;
  users: AsyncIterable<AuditSubject>;
  /** The inventory CSV (written atomically, mode 0600; nothing is left behind on a fatal error). */
  outFile: string;
  /** Start the inventory with a UTF-8 byte order mark for Excel (--excel). */
  bom?: boolean;
  /** Users read at once. Default 8. */
  concurrency?: number;
  retry?: RetryOptions;
  /** After each user. */
  onUser?: (user: UserInventory, done: number) => void;
}

export interface AuditResult extends AuditSummary {
  outFile: string;
  sha256: string;
}

export async function runAudit(opts: AuditOptions): Promise<AuditResult> {
  const tally = new AuditTally();
  const concurrency = opts.concurrency ?? DEFAULT_AUDIT_CONCURRENCY;
  let done = 0;
  // A list may name one user twice (by id on one row, by login on another): audited once.
  const seen = new Set<string>();
  async function* rows(): AsyncGenerator<InventoryRow> {
    for await (const user of mapOrdered(opts.users, concurrency, (s) => inventoryOf(opts.client, s, opts.retry))) {
      if (user.found) {
        if (seen.has(user.userId)) continue;
        seen.add(user.userId);
      }
      tally.add(user);
      opts.onUser?.(user, ++done);
      yield* user.rows;
    }
  }
  const written = await writeCsv(opts.outFile, INVENTORY_COLUMNS, rows(), { bom: Boolean(opts.bom) });
  return { ...tally.summary(), outFile: opts.outFile, sha256: written.sha256 };
}
