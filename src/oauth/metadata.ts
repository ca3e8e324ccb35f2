/**
 * Discovery documents: RFC 8414 authorization server metadata per side, RFC 9728 protected
 * resource metadata per API, and the JWKS. They describe the configuration as it is.
 */
import type { KeyRing } from './key-ring.js';
import { API_SCOPES, roleMayHold, SIDE_ROLES } from './api-scopes.js';
import type { ScopePolicy } from './scopes.js';
import type { Side } from './sides.js';
import { SUPPORTED_CLAIMS } from './oidc/claims.js';
import { SUBJECT_TYPES } from '../storage/repositories.js';

export const TOKEN_PATH = '/oauth2-token';
export const REVOCATION_PATH = '/oauth2-token/revoke';
export const INTROSPECTION_PATH = '/oauth2-token/introspect';
export const JWKS_PATH = '/.well-known/jwks.json';
export const VISITOR_AUTHORIZE_PATH = '/oauth2-token/authorize-visitor';

/** RFC 8414 §3: the well-known segment goes between the host and the issuer's path. */
export const authorizationServerMetadataPath = (side: Side) => `/.well-known/oauth-authorization-server${side.prefix}`;
/** RFC 9728 §3: likewise for the resource identifier's path. */
export const protectedResourceMetadataPath = (side: Side) => `/.well-known/oauth-protected-resource${side.apiPath}`;

/** Of `names`, those a user of the side may hold: the catalogue's scopes by role, the deployment's own all. */
function heldOnSide(side: Side, names: string[]): string[] {
  return names.filter((scope) => SIDE_ROLES[side.name].some((role) => roleMayHold(role, scope)));
}

/**
 * One document for both RFC 8414 and OpenID Connect Discovery 1.0 (§3), served at both
 * addresses, so the two can never disagree; it lists only what is really supported.
 */
export function authorizationServerMetadata(side: Side, publicUrl: string, grantTypes: string[], scopes: ScopePolicy, keys: KeyRing) {
  const authMethods = ['client_secret_basic', 'client_secret_post', 'none'];
  return {
    issuer: side.issuer,
    authorization_endpoint: publicUrl + side.authorizePath,
    token_endpoint: publicUrl + TOKEN_PATH,
    jwks_uri: publicUrl + JWKS_PATH,
    scopes_supported: heldOnSide(side, Object.keys(scopes.known)),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint: publicUrl + REVOCATION_PATH,
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint: publicUrl + INTROSPECTION_PATH,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    userinfo_endpoint: publicUrl + side.userinfoPath,
    end_session_endpoint: publicUrl + side.endSessionPath,
    subject_types_supported: [...SUBJECT_TYPES],
    id_token_signing_alg_values_supported: keys.signingAlgorithms(),
    claims_supported: [...SUPPORTED_CLAIMS],
    claim_types_supported: ['normal'],
    claims_parameter_supported: true,
    prompt_values_supported: ['none', 'login', 'consent'],
    request_parameter_supported: false,
    // Discovery §3 defaults this one to true: it must be said.
    request_uri_parameter_supported: false,
    require_request_uri_registration: false,
  };
}

/** RFC 9728 metadata of a side's API: it understands only the catalogue's scopes a user of that side may hold. */
export function protectedResourceMetadata(side: Side, publicUrl: string) {
  return {
    resource: side.audience,
    authorization_servers: [side.issuer],
    jwks_uri: publicUrl + JWKS_PATH,
    scopes_supported: heldOnSide(side, Object.keys(API_SCOPES)),
    bearer_methods_supported: ['header'],
  };
}

export function jwks(keys: KeyRing) {
  return { keys: keys.published().map((k) => k.publicJwk) };
}
