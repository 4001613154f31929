/**
 * Where a re-enrollment's users come from besides a previous report: the members of an
 * Okta group (a source every worker can read, so a schedule stores only its id). Each
 * member becomes a push row numbered by its position in the listing.
 */
import { usersFromGroup } from '../audit/sources.js';
import { DEFAULT_FACTOR_TYPE, DEFAULT_PROVIDER } from '../csv/input-row.js';
import type { OktaClient } from '../okta/types.js';
import type { SourceRow } from '../runs/ingest.js';

export const GROUP_ID_RE = /^[A-Za-z0-9]{1,64}$/;

/** `--group`: an Okta group id, or a sentence saying what was expected. */
export function groupIdProblem(groupId: string, flag = '--group'): string | undefined {
  return GROUP_ID_RE.test(groupId) ? undefined : `${flag}: expected an Okta group id (letters and digits, like 00g1ab2cd3EF4gh5ij6k), got \`${groupId}\``;
}

/** Every member of the group (pages followed by their rel="next" links) as a revisit row. */
export async function groupRevisitRows(okta: OktaClient, groupId: string, opts: { pageSize?: number } = {}): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const u of usersFromGroup(okta, groupId, opts.pageSize ? { pageSize: opts.pageSize } : {})) {
    const row = rows.length + 1;
    rows.push({
      fileRow: String(row),
      input: { row, ...(u.userId ? { userId: u.userId } : {}), ...(u.login ? { login: u.login } : {}), factorType: DEFAULT_FACTOR_TYPE, provider: DEFAULT_PROVIDER },
    });
  }
  return rows;
}
