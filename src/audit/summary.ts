/** The audit's tallies, kept while the inventory streams by, and their printed form. */
import { ACTIVE_STATUSES, STATUS_ERROR, STATUS_NOT_FOUND, type UserInventory } from './inventory.js';

export interface AuditSummary {
  /** Distinct users looked at. */
  users: number;
  /** Users Okta knows and whose factors were read. */
  read: number;
  notFound: number;
  errors: number;
  /** Inventory rows written. */
  rows: number;
  /** Factor rows by factorType (rows of real factors only). */
  byFactorType: Record<string, number>;
  /** Rows by status, NONE / NOT_FOUND / ERROR included. */
  byStatus: Record<string, number>;
  /** Users read holding a push factor that is ACTIVE (seed dialect: ACTIVATED). */
  activePushUsers: number;
  /** activePushUsers / read, 0 when nobody was read. */
  activePushShare: number;
}

export class AuditTally {
  private readonly s: AuditSummary = { users: 0, read: 0, notFound: 0, errors: 0, rows: 0, byFactorType: {}, byStatus: {}, activePushUsers: 0, activePushShare: 0 };

  add(user: UserInventory): void {
    const s = this.s;
    s.users++;
    if (user.found) s.read++;
    const status0 = user.rows[0]?.status;
    if (!user.found && status0 === STATUS_NOT_FOUND) s.notFound++;
    if (!user.found && status0 === STATUS_ERROR) s.errors++;
    let activePush = false;
    for (const r of user.rows) {
      s.rows++;
      s.byStatus[r.status] = (s.byStatus[r.status] ?? 0) + 1;
      if (r.factorId) s.byFactorType[r.factorType] = (s.byFactorType[r.factorType] ?? 0) + 1;
      if (r.factorType === 'push' && ACTIVE_STATUSES.has(r.status)) activePush = true;
    }
    if (activePush) s.activePushUsers++;
  }

  summary(): AuditSummary {
    const s = this.s;
    return {
      ...s,
      byFactorType: sortedCounts(s.byFactorType),
      byStatus: sortedCounts(s.byStatus),
      activePushShare: s.read ? s.activePushUsers / s.read : 0,
    };
  }
}

/** Largest count first, then by name: stable output for people and tests. */
function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)));
}

const list = (counts: Record<string, number>): string => {
  const parts = Object.entries(counts).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
};

export function formatAuditSummary(s: AuditSummary): string {
  const pct = (s.activePushShare * 100).toFixed(1);
  const lines = [
    `Audit: ${s.users} users, ${s.rows} inventory rows`,
    `  users read ${s.read}, not found ${s.notFound}${s.errors ? `, could not be read ${s.errors}` : ''}`,
    `  factors by type:   ${list(s.byFactorType)}`,
    `  rows by status:    ${list(s.byStatus)}`,
    `  active push factor: ${s.activePushUsers} of ${s.read} users read (${pct}%)`,
  ];
  return lines.join('\n');
}
