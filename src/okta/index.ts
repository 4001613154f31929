/** The Okta client's public surface: import from here. */
export { createOktaClient, endpointTemplate, HttpOktaClient, DEFAULT_TIMEOUT_MS, DEFAULT_CONNECTIONS, GROUP_USERS_PAGE } from './client.js';
export { sswsAuth } from './auth-ssws.js';
export { oauthAuth, loadSigningKey, accessTokenHash, htuOf, DEFAULT_SCOPES, TOKEN_PATH, type OAuthOptions, type OAuthProvider, type PrivateKeyInput } from './auth-oauth.js';
export { createAuth, type AuthSettings } from './auth.js';
export { parseChallenges, mainChallenge, type Challenge } from './www-authenticate.js';
export { bucketForPath } from './buckets.js';
export { OriginPolicy, isLoopbackHost } from './links.js';
export { parseFactor, cleanString, factorIdFromPath } from './parse-factor.js';
export { parseLinkHeader, nextLink } from './pagination.js';
export { parseRateLimit, classifyRateLimit } from './rate-limit-headers.js';
export { ClockOffset } from './clock-offset.js';
export { BODY_CAPS } from './read-body.js';
export { chooseProxy, noProxyExcludes, parseProxyUrl, type ProxyChoice, type ProxySettings } from './proxy.js';
export { createTransport, trustedCas, type CaInput } from './transport.js';
export { USER_AGENT, userAgentFor } from './user-agent.js';
export { ForeignOriginError, InsecureTransportError, OktaApiError, OktaNetworkError, OktaProtocolError, RequestAbortedError } from './errors.js';
export type * from './types.js';
