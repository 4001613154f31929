/**
 * Okta's error object ({errorCode, errorSummary, errorLink, errorId, errorCauses}) and
 * the answers the simulator gives with it, their summaries as Okta's error catalog
 * (error-codes.json) words them. Only errorCode should drive a client.
 */
import type { Random } from './random.js';
import { alphanumeric } from './random.js';

export interface OktaErrorBody {
  errorCode: string;
  errorSummary: string;
  errorLink: string;
  errorId: string;
  errorCauses: Array<{ errorSummary: string }>;
}

/** What a handler returns as an error: status, Okta body, extra headers. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly errorSummary: string,
    readonly causes: string[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${errorCode}: ${errorSummary}`);
  }
}

export function errorBody(err: SimHttpError, random: Random): OktaErrorBody {
  return {
    errorCode: err.errorCode,
    errorSummary: err.errorSummary,
    errorLink: err.errorCode,
    errorId: `oae${alphanumeric(random, 22)}`,
    errorCauses: err.causes.map((errorSummary) => ({ errorSummary })),
  };
}

export const errors = {
  validation: (...causes: string[]) => new SimHttpError(400, 'E0000001', 'Api validation failed: factor', causes),
  badBody: (cause: string) => new SimHttpError(400, 'E0000001', 'Api validation failed: body', [cause]),
  badQuery: (cause: string) => new SimHttpError(400, 'E0000001', 'Api validation failed: query', [cause]),
  invalidToken: () => new SimHttpError(401, 'E0000011', 'Invalid token provided'),
  userNotFound: (id: string) => new SimHttpError(404, 'E0000007', `Not found: Resource not found: ${id} (User)`),
  factorNotFound: (id: string) => new SimHttpError(404, 'E0000007', `Not found: Resource not found: ${id} (UserFactor)`),
  groupNotFound: (id: string) => new SimHttpError(404, 'E0000007', `Not found: Resource not found: ${id} (UserGroup)`),
  pathNotFound: (path: string) => new SimHttpError(404, 'E0000007', `Not found: Resource not found: ${path} (Resource)`),
  methodNotAllowed: (allow: string[]) =>
    new SimHttpError(405, 'E0000022', 'The endpoint does not support the provided HTTP method', [], { Allow: allow.join(', ') }),
  rateLimited: () => new SimHttpError(429, 'E0000047', 'API call exceeded rate limit due to too many requests.'),
  smsTooSoon: (seconds: number) =>
    new SimHttpError(429, 'E0000109', `An SMS message was recently sent. Please wait ${seconds} seconds before trying again.`),
  tooLarge: () => new SimHttpError(413, 'E0000001', 'Api validation failed: body', ['The request body is too large.']),
  internal: () => new SimHttpError(500, 'E0000009', 'Internal Server Error'),
  unavailable: () => new SimHttpError(503, 'E0000009', 'Service Unavailable'),
  /** A user the token may not change: a super admin only a super admin may change, or a user outside the admin's groups. */
  forbidden: () => new SimHttpError(403, 'E0000006', 'You do not have permission to perform the requested action'),
  userStatus: () => new SimHttpError(403, 'E0000038', "This operation is not allowed in the user's current status."),
  userActivating: () => new SimHttpError(409, 'E0000112', 'Cannot update this user because they are still being activated. Please try again in a few minutes.'),
  readOnly: () => new SimHttpError(503, 'E0000010', 'Service is in read only mode'),
  malformedBody: (causes: string[]) => new SimHttpError(400, 'E0000003', 'The request body was not well-formed.', causes),
  /** The catalog's "Unsupported media type" (it lists the code with status 404); answered with 415. */
  unsupportedMediaType: (contentType: string | undefined) =>
    new SimHttpError(415, 'E0000012', 'Unsupported media type', [`Content-Type: expected application/json, got ${contentType ? `"${contentType}"` : 'none'}`]),
  policyRefused: () => new SimHttpError(400, 'E0000001', 'Api validation failed: factorEnrollRequest', ['Factor not allowed for the user based on the Multifactor policy']),
};
