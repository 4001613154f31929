/**
 * An Okta group as a run's input: "enroll the Finance group" without exporting a CSV.
 * Members are read page by page (`limit`, then each answer's rel="next" link) and each
 * page's users are stored as input rows as soon as it arrives, so a 20,000-member group
 * never sits in memory and the feeder starts enrolling the first page while later ones
 * are read. The run's total stays unknown (`status` shows `?`) until the last page.
 *
 * Row numbers are member positions in the group listing (1-based). Rows a filter leaves
 * out (--match / --skip on userId or login, --max-rows) are not part of the run; the
 * rows taken keep their position as their row number in the report.
 */
import { ConfigError, ExitError, EXIT, FatalRunError } from '../errors.js';
import type { RunSettings } from '../config.js';
import { DEFAULT_FACTOR_TYPE, DEFAULT_PROVIDER, type InputRow, type RowResult } from '../csv/input-row.js';
import { filterMatches, type RowFilter } from '../csv/filters.js';
import { withRetry } from '../audit/retry.js';
import { OktaApiError } from '../okta/errors.js';
import type { OktaClient, OktaUser, Page } from '../okta/types.js';
import { newRunId } from './keys.js';
import { encodeInput } from '../rows/codec.js';
import type { RunStore } from './store.js';

/** Columns a filter may name for group input. */
export const GROUP_COLUMNS = ['userId', 'login'] as const;

export interface GroupRowOptions {
  match?: RowFilter[];
  skip?: RowFilter[];
  maxRows?: number;
  /** Members per page, 1 to 200 (default 200). */
  pageSize?: number;
  /** Called after each page is read: pages so far, members seen so far. */
  onPage?: (pages: number, members: number) => void;
}

export const GROUP_ID_RE = /^[A-Za-z0-9]{1,64}$/;

/** Validate the group id and the filters' columns (before anything is read or stored). */
export function checkGroupInput(groupId: string | undefined, opts: Pick<GroupRowOptions, 'match' | 'skip' | 'pageSize'> = {}): void {
  const problems: string[] = [];
  if (groupId !== undefined && !GROUP_ID_RE.test(groupId)) problems.push(`--group: expected an Okta group id (letters and digits, like 00g1ab2cd3EF4gh5ij6k), got \`${groupId}\``);
  for (const [flag, filters] of [['--match', opts.match], ['--skip', opts.skip]] as const) {
    for (const f of filters ?? []) {
      if (!GROUP_COLUMNS.some((c) => c.toLowerCase() === f.column.toLowerCase())) {
        problems.push(`${flag} ${f.column}=${f.regex.source}: group input has the columns ${GROUP_COLUMNS.join(' and ')}, got \`${f.column}\``);
      }
    }
  }
  if (opts.pageSize !== undefined && (!Number.isInteger(opts.pageSize) || opts.pageSize < 1 || opts.pageSize > 200)) {
    problems.push(`--page-size: expected a whole number from 1 to 200, got \`${String(opts.pageSize)}\``);
  }
  if (problems.length) throw new ConfigError(problems);
}

function cellOf(filter: RowFilter, cells: { userId: string; login: string }): string {
  return filter.column.toLowerCase() === 'login' ? cells.login : cells.userId;
}

/**
 * The members of a group as input rows (push, OKTA), one array per page, in listing
 * order, filters applied. Each row's number is the member's position in the listing.
 * 429 / 5xx / network errors are retried; a group Okta does not know is a usage error.
 */
export async function* groupPages(okta: OktaClient, groupId: string, opts: GroupRowOptions = {}): AsyncGenerator<RowResult[]> {
  checkGroupInput(groupId, opts);
  let position = 0;
  let taken = 0;
  let pages = 0;
  if (opts.maxRows !== undefined && opts.maxRows <= 0) return;
  let page: Page<OktaUser>;
  try {
    page = await withRetry(() => okta.listGroupUsers({ groupId }, opts.pageSize ?? 200));
  } catch (err) {
    if (err instanceof OktaApiError && err.status === 404) {
      throw new ExitError(EXIT.USAGE, `--group ${groupId}: Okta has no such group (${err.errorCode}: ${err.errorSummary}); expected a group id like 00g1ab2cd3EF4gh5ij6k`);
    }
    throw err;
  }
  for (;;) {
    pages++;
    const rows: RowResult[] = [];
    for (const user of page.items) {
      position++;
      const cells = { userId: user.id, login: user.login };
      if (!(opts.match ?? []).every((f) => filterMatches(f, cellOf(f, cells))) || (opts.skip ?? []).some((f) => filterMatches(f, cellOf(f, cells)))) continue;
      rows.push({ ok: true, value: { row: position, userId: user.id, login: user.login, factorType: DEFAULT_FACTOR_TYPE, provider: DEFAULT_PROVIDER } });
      if (opts.maxRows !== undefined && ++taken >= opts.maxRows) break;
    }
    opts.onPage?.(pages, position);
    yield rows;
    if (opts.maxRows !== undefined && taken >= opts.maxRows) return;
    const next = page.next;
    if (!next) return;
    page = await withRetry(() => okta.listGroupUsers({ next }));
  }
}

/** groupPages, one row at a time. */
export async function* groupRows(okta: OktaClient, groupId: string, opts: GroupRowOptions = {}): AsyncGenerator<RowResult> {
  for await (const rows of groupPages(okta, groupId, opts)) yield* rows;
}

/**
 * `--group-name`: the one group whose name is exactly this (case-insensitive). Several
 * such groups, or none, is a usage error that lists the candidates Okta returned.
 */
export async function resolveGroupName(okta: OktaClient, name: string): Promise<{ id: string; name: string }> {
  const wanted = name.trim();
  if (!wanted) throw new ConfigError(['--group-name: expected a group name, got an empty string']);
  const found = await okta.findGroups(wanted);
  const exact = found.filter((g) => g.name.toLowerCase() === wanted.toLowerCase());
  const list = (gs: Array<{ id: string; name: string }>) => gs.slice(0, 20).map((g) => `  ${g.id}  ${g.name}`).join('\n') + (gs.length > 20 ? `\n  … and ${gs.length - 20} more` : '');
  if (exact.length === 1) return exact[0]!;
  if (exact.length > 1) {
    throw new ExitError(EXIT.USAGE, `--group-name ${JSON.stringify(wanted)}: expected one group with this name, found ${exact.length}; pick one with --group <id>:\n${list(exact)}`);
  }
  if (found.length) {
    throw new ExitError(EXIT.USAGE, `--group-name ${JSON.stringify(wanted)}: no group has exactly this name; groups starting with it (use --group <id> or the full name):\n${list(found)}`);
  }
  throw new ExitError(EXIT.USAGE, `--group-name ${JSON.stringify(wanted)}: Okta has no group whose name starts with this`);
}

export interface IngestGroupResult {
  runId: string;
  /** Rows stored (members taken). */
  rows: number;
  /** Members listed (taken or left out). */
  members: number;
  pages: number;
}

/**
 * Create a run fed by the group's members. The run is active from the first page on
 * (workers feed whatever is stored); its total is set once the last page was read.
 * If reading fails part way, the run keeps the rows already stored (its total is set
 * to them, so it can finish) and a FatalRunError says so.
 */
export async function ingestGroup(
  store: RunStore,
  okta: OktaClient,
  group: { id: string; name?: string },
  settings: RunSettings,
  opts: GroupRowOptions & { runId?: string; command?: string } = {},
): Promise<IngestGroupResult> {
  checkGroupInput(group.id, opts);
  const runId = opts.runId ?? newRunId();
  await store.createRun({
    id: runId,
    createdAt: new Date().toISOString(),
    command: opts.command ?? 'run',
    fileName: `group ${group.name ? `${group.name} (${group.id})` : group.id}`,
    settings,
  });
  await store.activate(runId);
  const k = store.keys(runId);
  let stored = 0;
  let members = 0;
  let pages = 0;
  const finish = async () => {
    await store.setTotal(runId, stored);
    await store.redis.beFinishIfDone(k.meta, k.counts, store.global.active, runId, new Date().toISOString());
  };
  try {
    for await (const rows of groupPages(okta, group.id, {
      ...opts,
      onPage: (p, m) => {
        pages = p;
        members = m;
        opts.onPage?.(p, m);
      },
    })) {
      // Each page goes to Redis as it arrives: the feeder can start on it at once.
      if (!rows.length) continue;
      const pipe = store.redis.pipeline();
      for (const r of rows) {
        stored++;
        pipe.hset(k.input, String(stored), encodeInput(r.value as InputRow));
        if (r.value.row !== stored) pipe.hset(`${k.input}:fileRow`, String(stored), String(r.value.row));
      }
      pipe.hset(k.meta, 'stored', String(stored));
      const res = await pipe.exec();
      for (const [e] of res ?? []) if (e) throw e;
    }
  } catch (err) {
    if (stored === 0) {
      // Nothing was read (unknown group, token rejected): the run is dropped.
      await store.redis.multi().del(k.meta, k.input, `${k.input}:fileRow`).zrem(store.global.runs, runId).srem(store.global.active, runId).exec();
      throw err;
    }
    await finish();
    throw new FatalRunError(
      `reading the members of group ${group.id} failed after ${members} members (${pages} pages): ${(err as Error).message}`,
      `Run ${runId} holds the ${stored} rows read so far; \`bulk-enroll resume ${runId} --report <file>\` enrolls them.`,
    );
  }
  await finish();
  return { runId, rows: stored, members, pages };
}
