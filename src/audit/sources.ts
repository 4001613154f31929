/**
 * Who an audit looks at: the users of a CSV (a `userId` or `login` column, any other
 * columns ignored) or the members of an Okta group, read page by page following
 * `Link: rel="next"`. Both are streams: neither the file nor the group is held in
 * memory, only the set of users already seen (to audit each user once).
 */
import { ExitError, EXIT, InputFileError } from '../errors.js';
import { readInput, type ReadInputOptions } from '../csv/read-input.js';
import { LOGIN_MAX_CHARS, showValue, USER_ID_RE } from '../csv/input-row.js';
import { OktaApiError } from '../okta/errors.js';
import type { OktaClient, OktaUser, Page } from '../okta/types.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface AuditSubject {
  userId?: string;
  login?: string;
  /** Both id and login come from Okta (a group listing): no user lookup needed. */
  known?: boolean;
}

/** How many identifier problems a refused user list names. */
const SHOWN_PROBLEMS = 20;

function identifierProblem(userId: string | undefined, login: string | undefined): string | undefined {
  if (!userId && !login) return 'userId, login: expected a userId or a login, both are empty';
  if (userId && !USER_ID_RE.test(userId)) {
    return `userId: expected an Okta user id (1 to 64 letters and digits, like 00u1ab2cd3EF4gh5ij6k), got ${showValue(userId)}`;
  }
  if (login) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f-\u009f]/.test(login)) return `login: expected no control characters, got ${showValue(login)}`;
    if (login.length > LOGIN_MAX_CHARS) return `login: expected at most ${LOGIN_MAX_CHARS} characters, got ${login.length}`;
    if (login.toLowerCase() === 'me') return 'login: "me" is refused (Okta would resolve it to the API token\'s own admin user)';
  }
  return undefined;
}

function keyOf(s: AuditSubject): string {
  return s.userId ? `u:${s.userId}` : `l:${(s.login ?? '').toLowerCase()}`;
}

async function* subjectsOf(file: string, opts: ReadInputOptions): AsyncGenerator<{ row: number; subject: AuditSubject; problem?: string }> {
  for await (const result of readInput(file, { ...opts, allowUnknownColumns: true })) {
    // Only the user's identity matters here: other columns (a bad phone number) do not stop an audit.
    const { row, userId, login } = result.value;
    const subject: AuditSubject = {};
    if (userId) subject.userId = userId;
    if (login) subject.login = login;
    const problem = identifierProblem(userId, login);
    yield problem ? { row, subject, problem } : { row, subject };
  }
}

/**
 * The first pass over a user list: refuses the file (InputFileError, nothing read from
 * Okta) when a row names no usable user; returns how many distinct users it names.
 */
export async function checkUserList(file: string, opts: ReadInputOptions = {}): Promise<{ rows: number; users: number }> {
  const problems: string[] = [];
  let count = 0;
  let rows = 0;
  const seen = new Set<string>();
  for await (const { row, subject, problem } of subjectsOf(file, opts)) {
    rows++;
    if (problem) {
      count++;
      if (problems.length < SHOWN_PROBLEMS) problems.push(`row ${row}: ${problem}`);
      continue;
    }
    seen.add(keyOf(subject));
  }
  if (count) {
    const more = count > problems.length ? `\n  … and ${count - problems.length} more` : '';
    throw new InputFileError(file, `${count} row${count > 1 ? 's name' : ' names'} no usable user:\n  ${problems.join('\n  ')}${more}`);
  }
  return { rows, users: seen.size };
}

/** The distinct users of a list (checked by checkUserList first), in file order. */
export async function* usersFromList(file: string, opts: ReadInputOptions = {}): AsyncGenerator<AuditSubject> {
  const seen = new Set<string>();
  for await (const { subject, problem } of subjectsOf(file, opts)) {
    if (problem) continue;
    const key = keyOf(subject);
    if (seen.has(key)) continue;
    seen.add(key);
    yield subject;
  }
}

/**
 * The members of a group, page by page (`limit` per page, then each answer's
 * rel="next" link as given). A group Okta does not know is a usage error (exit 2).
 */
export async function* usersFromGroup(
  client: OktaClient,
  groupId: string,
  opts: { pageSize?: number; retry?: RetryOptions; onPage?: (n: number) => void } = {},
): AsyncGenerator<AuditSubject> {
  let page: Page<OktaUser>;
  try {
    page = await withRetry(() => client.listGroupUsers({ groupId }, opts.pageSize), opts.retry);
  } catch (err) {
    if (err instanceof OktaApiError && err.status === 404) {
      throw new ExitError(EXIT.USAGE, `--group ${groupId}: Okta has no such group (${err.errorCode}: ${err.errorSummary}); expected a group id like 00g1ab2cd3EF4gh5ij6k`);
    }
    throw err;
  }
  let pages = 1;
  opts.onPage?.(pages);
  for (;;) {
    for (const user of page.items) yield { userId: user.id, login: user.login, known: true };
    const next = page.next;
    if (!next) return;
    page = await withRetry(() => client.listGroupUsers({ next }), opts.retry);
    opts.onPage?.(++pages);
  }
}
