/**
 * JSON:API plumbing shared by both sides' APIs: the media type rules, error documents, the
 * bearer-token guard (RFC 6750) that admits only tokens minted for this side's API, the scope
 * every route declares, and the principal a token acts as. What that principal may do is
 * decided in src/management, as for the console and the CLI.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ValidatedAccessToken } from '../../oauth/access-tokens.js';
import { API_SCOPES, scopeAllows } from '../../oauth/api-scopes.js';
import { OAuthError } from '../../oauth/errors.js';
import { protectedResourceMetadataPath } from '../../oauth/metadata.js';
import type { Side } from '../../oauth/sides.js';
import { ManagementError, TooManyAttempts } from '../../management/errors.js';
import type { ActionContext } from '../../management/principal.js';
import { textProblem } from '../../security/input.js';
import { bearerTokenOf } from '../bearer.js';
import type { HttpContext } from '../context.js';

export const JSON_API = 'application/vnd.api+json';

declare module 'fastify' {
  interface FastifyRequest {
    accessToken?: ValidatedAccessToken;
    /** Who the token acts for; undefined for a guest's token, which acts for nobody. */
    apiAction?: ActionContext;
  }
  interface FastifyContextConfig {
    /** The scope of Grantry's API catalogue (api-scopes.ts) a route needs. Every API route names one. */
    scope?: string;
  }
}

/** One JSON:API error object (JSON:API 1.1 §7.7). */
export interface ApiErrorObject {
  status: string;
  code?: string;
  title: string;
  detail: string;
  source?: { pointer: string } | { parameter: string } | { header: string };
}

/**
 * The document as a string, which Node writes to the socket together with the headers (a Buffer
 * takes a write of its own). The serializer passes it on as it is: for a string with a JSON media
 * type Fastify would otherwise add "; charset=utf-8", a parameter JSON:API's media type must not carry.
 */
export function sendDocument(reply: FastifyReply, status: number, document: unknown): FastifyReply {
  return reply.code(status).header('Content-Type', JSON_API).header('Cache-Control', 'no-store').serializer(asIs).send(JSON.stringify(document));
}

const asIs = (payload: unknown) => payload as string;

/** 204 No Content: a deletion done (JSON:API 1.1 §7.4). */
export function sendNoContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).header('Cache-Control', 'no-store').send();
}

/** A stored time (seconds since the epoch) as an attribute: ISO 8601 in UTC. */
export const isoTime = (seconds: number): string => new Date(seconds * 1000).toISOString();

export function sendApiError(reply: FastifyReply, status: number, title: string, detail: string, code?: string, source?: ApiErrorObject['source']): FastifyReply {
  return sendDocument(reply, status, { errors: [{ status: String(status), ...(code ? { code } : {}), title, detail, ...(source ? { source } : {}) }] });
}

/**
 * A request the API refuses, with the part of it to blame: thrown by the document and query
 * readers below and by routes, answered by the API's error handler.
 */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly source?: ApiErrorObject['source'],
  ) {
    super(detail);
    this.name = 'ApiRequestError';
  }

  static badParameter(parameter: string, detail: string): ApiRequestError {
    return new ApiRequestError(400, 'Bad request', detail, { parameter });
  }

  static badDocument(pointer: string, detail: string): ApiRequestError {
    return new ApiRequestError(400, 'Bad request', detail, { pointer });
  }

  static invalidAttribute(name: string, detail: string): ApiRequestError {
    return new ApiRequestError(422, 'Invalid attribute', detail, { pointer: `/data/attributes/${name}` });
  }
}

/** The status and title of each kind of management refusal. */
const MANAGEMENT_STATUS: Record<ManagementError['code'], [number, string]> = {
  invalid_input: [422, 'Invalid request'],
  conflict: [409, 'Conflict'],
  not_found: [404, 'Not found'],
  forbidden: [403, 'Forbidden'],
};

/** A management refusal as JSON:API: its field, when it names one, becomes the attribute's pointer. */
function sendManagementError(reply: FastifyReply, e: ManagementError): FastifyReply {
  const [status, title] = MANAGEMENT_STATUS[e.code];
  const source = e.field !== undefined && status === 422 ? { pointer: `/data/attributes/${e.field}` } : undefined;
  return sendApiError(reply, status, title, e.message, undefined, source);
}

/** A media type or Accept range: its type, its media type parameters, and (in Accept) its weight. */
function parseMediaType(text: string, inAccept: boolean): { type: string; parameters: string[]; weight: number } {
  const [type = '', ...rest] = text.split(';').map((part) => part.trim());
  const parameters: string[] = [];
  let weight = 1;
  for (const parameter of rest) {
    const name = parameter.split('=', 1)[0]?.trim().toLowerCase() ?? '';
    // In an Accept range, "q" ends the media type's parameters (RFC 9110 §12.5.1).
    if (inAccept && name === 'q') {
      weight = Number(parameter.slice(parameter.indexOf('=') + 1).trim());
      break;
    }
    if (name !== '') parameters.push(name);
  }
  return { type: type.toLowerCase(), parameters, weight: Number.isFinite(weight) ? weight : 0 };
}

/**
 * The JSON:API media type as this server takes it (JSON:API 1.1 §5): with no parameter but
 * `profile`. It supports no extension, so one named by `ext` cannot be honoured either.
 */
const isServedJsonApi = (m: { type: string; parameters: string[] }) => m.type === JSON_API && m.parameters.every((p) => p === 'profile');

/** Whether a request carries a body, or says it does (RFC 9110 §8.6, RFC 9112 §6.1). */
function hasBody(request: FastifyRequest): boolean {
  const { headers } = request;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * JSON:API 1.1 §5.2: a body must be sent as application/vnd.api+json with no parameter but
 * profile (415 otherwise: ext names an extension this server does not support), and an Accept
 * header whose JSON:API ranges all carry other parameters cannot be served (406). An Accept that
 * admits neither JSON:API nor JSON cannot be served either; plain JSON is admitted, since the
 * document is JSON, for clients that ask for that. A range of weight 0 admits nothing.
 */
function mediaTypeProblem(request: FastifyRequest): ApiRequestError | undefined {
  // A request that sends nothing (a DELETE, an action such as regenerating a secret) has no
  // media type to check, whatever Content-Type a client library adds to every request.
  if (hasBody(request) && !isServedJsonApi(parseMediaType(request.headers['content-type'] ?? '', false))) {
    return new ApiRequestError(415, 'Unsupported media type', `a request body must be sent as ${JSON_API}, with no media type parameter but profile (this server supports no extension)`, { header: 'Content-Type' });
  }
  const accept = request.headers.accept?.trim();
  if (accept) {
    const ranges = accept.split(',').map((range) => parseMediaType(range, true)).filter((range) => range.weight > 0);
    const jsonApi = ranges.filter((range) => range.type === JSON_API);
    const servable = jsonApi.length > 0 ? jsonApi.some(isServedJsonApi) : ranges.some((range) => ['application/json', 'application/*', '*/*'].includes(range.type));
    if (!servable) return new ApiRequestError(406, 'Not acceptable', `responses are ${JSON_API} with no extension; the Accept header admits none`, { header: 'Accept' });
  }
  return undefined;
}

/**
 * Registers the bearer guard, the route scopes, JSON:API media types and errors, not-found
 * handling and CORS on an API plugin scope (registered with the side's API path as prefix).
 */
export function protectApi(app: FastifyInstance, ctx: HttpContext, side: Side): void {
  // RFC 6750 §3 challenge, pointing at the RFC 9728 metadata (§5.1), with the error when a token was presented.
  const resourceMetadata = ctx.grantry.config.publicUrl + protectedResourceMetadataPath(side);
  const challenge = (error?: OAuthError, scope?: string) =>
    `Bearer realm="grantry", resource_metadata="${resourceMetadata}"` +
    (error ? `, error="${error.error}", error_description="${error.description}"` : '') +
    (scope ? `, scope="${scope}"` : '');

  // Every route names the scope it needs, from the catalogue: a route that forgot would serve
  // any token, so the server refuses to start instead.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => m === 'OPTIONS')) return;
    const scope = (route.config as { scope?: string } | undefined)?.scope;
    if (scope === undefined || !Object.hasOwn(API_SCOPES, scope)) throw new Error(`API route ${route.url} declares no scope of the catalogue`);
  });

  ctx.cors.apply(app, ['/*'], 'GET, POST, PATCH, DELETE');
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method === 'OPTIONS') return;
    const query = request.query as Record<string, unknown>;
    let token: ValidatedAccessToken;
    try {
      const presented = bearerTokenOf(request);
      if (presented === undefined) {
        reply.header('WWW-Authenticate', challenge());
        return sendApiError(reply, 401, 'Unauthorized', 'an access token is required in the Authorization header');
      }
      token = await ctx.grantry.accessTokens.validate(presented, side);
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      reply.header('WWW-Authenticate', challenge(e));
      return e.error === 'invalid_request' ? sendApiError(reply, 400, 'Bad request', e.description, e.error) : sendApiError(reply, 401, 'Unauthorized', e.description, e.error);
    }
    request.accessToken = token;
    // The text rule of every OAuth parameter, for the path and the query: no NUL reaches the
    // database. In this hook rather than one of its own: a hook more costs every API request.
    if (!isText(request.params) || !isText(query)) {
      return sendApiError(reply, 400, 'Bad request', 'a path or query parameter is too long or contains characters that are not allowed');
    }
    // RFC 6750 §3.1: a valid token without the route's scope is 403 insufficient_scope, naming it.
    const needed = request.routeOptions.config.scope;
    if (needed !== undefined && !scopeAllows(token.scope.split(' '), needed)) {
      const error = OAuthError.insufficientScope(`the access token lacks the scope ${needed} (or api) this request needs`);
      reply.header('WWW-Authenticate', challenge(error, needed));
      return sendApiError(reply, 403, 'Forbidden', error.description, error.error);
    }
    const mediaType = mediaTypeProblem(request);
    if (mediaType) return sendApiError(reply, mediaType.status, mediaType.title, mediaType.message, undefined, mediaType.source);
    request.apiAction = principalOf(side, token, request.ip);
  });

  app.setNotFoundHandler((_request, reply) => sendApiError(reply, 404, 'Not found', 'no such resource'));
  // The API's own refusals and management's, as JSON:API; anything else reaches the server's
  // handler, which answers paths of an API in JSON:API too.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiRequestError) return sendApiError(reply, error.status, error.title, error.message, undefined, error.source);
    // Self-service tried too often (an email another user has): as for sign-in, 429 and when to retry.
    if (error instanceof TooManyAttempts) return sendApiError(reply.header('Retry-After', String(error.retryAfter)), 429, 'Too many requests', error.message);
    if (error instanceof ManagementError) return sendManagementError(reply, error);
    throw error;
  });
}

/** The user a token acts for, as a management principal with their current role (read with the token's state). */
function principalOf(side: Side, token: ValidatedAccessToken, address: string): ActionContext | undefined {
  if (token.userId === null || token.user === null) return undefined;
  const isAdmin = side.name === 'backoffice' && token.user.isAdmin;
  return { principal: { kind: 'user', side: side.name, userId: token.userId, isAdmin, label: token.user.label }, address };
}

/** The principal of an API request; a guest's token acts for nobody and may manage nothing. */
export function actionOf(request: FastifyRequest): ActionContext {
  if (!request.apiAction) throw new ApiRequestError(403, 'Forbidden', 'the access token acts for no user');
  return request.apiAction;
}

/** True when every name and value of parsed path or query parameters passes the shared text check. */
function isText(parameters: unknown): boolean {
  for (const [name, value] of Object.entries((parameters ?? {}) as Record<string, unknown>)) {
    if (textProblem(name)) return false;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string' && textProblem(v)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading queries: page, filter, fields. Every query parameter of a request is one of these
// families or refused (JSON:API 1.1 §6: sort and include are not supported, so they are 400).

export interface ListQuery {
  page: { number: number; size: number };
  /** filter[name] values, by name; only the names the route allows. */
  filter: Record<string, string>;
  /** fields[type] of this resource type: the attributes to return, or undefined for all. */
  fields: string[] | undefined;
}

const single = (query: Record<string, unknown>, name: string): string | undefined => {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw ApiRequestError.badParameter(name, `${name} may be given once`);
  return raw;
};

/** page[number] and page[size] (JSON:API pagination), validated. */
function pageOf(query: Record<string, unknown>): { number: number; size: number } {
  const read = (name: string, fallback: number, max: number, rule: string) => {
    const raw = single(query, name);
    if (raw === undefined) return fallback;
    if (!/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw ApiRequestError.badParameter(name, `${name} must be ${rule}`);
    return Number(raw);
  };
  return { number: read('page[number]', 1, 1_000_000, 'a whole number from 1 to 1000000'), size: read('page[size]', 10, 100, 'a whole number from 1 to 100') };
}

/**
 * The query of a request for `type`: a list's page, filters and fields when `list` names the
 * filters it takes, or only fields for a single resource. Anything else is 400 naming it.
 */
export function readQuery(request: FastifyRequest, type: string, attributes: readonly string[], list?: { filters: readonly string[] }): ListQuery {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const filter: Record<string, string> = {};
  let fields: string[] | undefined;
  for (const name of Object.keys(query)) {
    const filterName = /^filter\[([^\]]+)\]$/.exec(name)?.[1];
    if (list && (name === 'page[number]' || name === 'page[size]')) continue;
    if (list && filterName !== undefined && list.filters.includes(filterName)) {
      filter[filterName] = single(query, name) as string;
      continue;
    }
    if (name === `fields[${type}]`) {
      fields = (single(query, name) as string).split(',').filter((f) => f !== '');
      const unknown = fields.filter((f) => !attributes.includes(f));
      if (unknown.length) throw ApiRequestError.badParameter(name, `${type} have no field ${unknown.join(', ')}; fields: ${attributes.join(', ')}`);
      continue;
    }
    if (/^fields\[[^\]]+\]$/.test(name)) throw ApiRequestError.badParameter(name, `this request returns only ${type}; use fields[${type}]`);
    if (filterName !== undefined) {
      throw ApiRequestError.badParameter(name, list ? `${type} cannot be filtered by ${filterName}; filters: ${list.filters.map((f) => `filter[${f}]`).join(', ') || 'none'}` : 'a single resource takes no filter');
    }
    if (name === 'sort' || name === 'include') throw ApiRequestError.badParameter(name, `${name} is not supported`);
    throw ApiRequestError.badParameter(name, `unknown query parameter ${name}`);
  }
  return { page: list ? pageOf(query) : { number: 1, size: 1 }, filter, fields };
}

/** The attributes a request asked for (sparse fieldsets), in the resource's own order. */
export function pickFields<T extends Record<string, unknown>>(attributes: T, fields: readonly string[] | undefined): Partial<T> {
  if (fields === undefined) return attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => fields.includes(name))) as Partial<T>;
}

/**
 * The top-level links and meta of one page of a collection at `base`: self, first, last, and
 * prev/next where they exist, each keeping the request's filters and fields.
 */
export function pageLinks(base: string, request: FastifyRequest, page: { number: number; size: number }, total: number) {
  const kept = Object.entries((request.query ?? {}) as Record<string, unknown>).filter(([name]) => !name.startsWith('page['));
  const link = (n: number) => {
    const params = new URLSearchParams(kept.map(([name, value]): [string, string] => [name, String(value)]));
    params.set('page[number]', String(n));
    params.set('page[size]', String(page.size));
    return `${base}?${params}`;
  };
  const last = Math.max(1, Math.ceil(total / page.size));
  return {
    links: {
      self: link(page.number),
      first: link(1),
      last: link(last),
      ...(page.number > 1 ? { prev: link(Math.min(page.number - 1, last)) } : {}),
      ...(page.number < last ? { next: link(page.number + 1) } : {}),
    },
    meta: { totalCount: total },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading documents: POST and PATCH bodies (JSON:API 1.1 §7.1-7.2).

export interface ResourceInput {
  /** The attributes sent, by name; only names the route knows (others are 422 naming them). */
  attributes: Record<string, unknown>;
  /** relationships.<name>.data.id values, by name. */
  relationships: Record<string, string | null>;
  /** relationships.<name>.data.type values, by name, for routes whose relationships may name several types. */
  relationshipTypes: Record<string, string | null>;
}

/**
 * The resource object of a create (`id` undefined) or update (`id` the URL's) document for
 * `type`. A document of another type or for another id is 409 (JSON:API 1.1 §7.1.2, §7.2.2);
 * a client-generated id on create is 403 (we make ids); unknown attributes are refused rather
 * than ignored, so a typo never looks like success.
 */
export function readResource(
  body: unknown,
  type: string,
  options: { id?: string; attributes: readonly string[]; relationships?: readonly string[] },
): ResourceInput {
  const doc = body as { data?: unknown } | undefined;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw ApiRequestError.badDocument('', 'the body must be a JSON:API document (an object with data)');
  const data = doc.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw ApiRequestError.badDocument('/data', 'data must be a resource object');
  if (data.type !== type) {
    if (typeof data.type !== 'string') throw ApiRequestError.badDocument('/data/type', 'data.type is required');
    throw new ApiRequestError(409, 'Conflict', `this endpoint takes ${type}, not ${String(data.type).slice(0, 60)}`, { pointer: '/data/type' });
  }
  if (options.id === undefined) {
    if (data.id !== undefined) throw new ApiRequestError(403, 'Forbidden', 'ids are made by the server; send no data.id', { pointer: '/data/id' });
  } else if (data.id !== options.id) {
    if (typeof data.id !== 'string') throw ApiRequestError.badDocument('/data/id', 'data.id is required and must be the id in the URL');
    throw new ApiRequestError(409, 'Conflict', 'data.id is not the id in the URL', { pointer: '/data/id' });
  }
  const attributes = (data.attributes ?? {}) as Record<string, unknown>;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw ApiRequestError.badDocument('/data/attributes', 'data.attributes must be an object');
  for (const name of Object.keys(attributes)) {
    if (!options.attributes.includes(name)) throw ApiRequestError.invalidAttribute(name, `${type} have no attribute ${name.slice(0, 60)} that can be set; attributes: ${options.attributes.join(', ')}`);
  }
  const relationships: Record<string, string | null> = {};
  const relationshipTypes: Record<string, string | null> = {};
  const rawRelationships = (data.relationships ?? {}) as Record<string, unknown>;
  if (typeof rawRelationships !== 'object' || rawRelationships === null || Array.isArray(rawRelationships)) throw ApiRequestError.badDocument('/data/relationships', 'data.relationships must be an object');
  for (const [name, value] of Object.entries(rawRelationships)) {
    const pointer = `/data/relationships/${name}`;
    if (!(options.relationships ?? []).includes(name)) throw ApiRequestError.badDocument(pointer, `${type} have no relationship ${name.slice(0, 60)} that can be set`);
    const linkage = (value as { data?: unknown } | null)?.data;
    if (linkage === null) {
      relationships[name] = null;
      relationshipTypes[name] = null;
    } else if (typeof linkage === 'object' && linkage !== null && typeof (linkage as { id?: unknown }).id === 'string' && typeof (linkage as { type?: unknown }).type === 'string') {
      relationships[name] = (linkage as { id: string }).id;
      relationshipTypes[name] = (linkage as { type: string }).type;
    } else throw ApiRequestError.badDocument(`${pointer}/data`, `${name} must be {"data": {"type": ..., "id": ...}} or {"data": null}`);
  }
  return { attributes, relationships, relationshipTypes };
}

/** Typed attribute readers: a value of the wrong type is 422 pointing at the attribute. */
export const attribute = {
  string(attributes: Record<string, unknown>, name: string): string | undefined {
    const v = attributes[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw ApiRequestError.invalidAttribute(name, `${name} must be a string`);
    return v;
  },
  boolean(attributes: Record<string, unknown>, name: string): boolean | undefined {
    const v = attributes[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw ApiRequestError.invalidAttribute(name, `${name} must be true or false`);
    return v;
  },
  strings(attributes: Record<string, unknown>, name: string): string[] | undefined {
    const v = attributes[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string') || v.length > 100) throw ApiRequestError.invalidAttribute(name, `${name} must be a list of at most 100 strings`);
    return v as string[];
  },
  /** A required attribute of a create document. */
  required<T>(value: T | undefined, name: string): T {
    if (value === undefined) throw new ApiRequestError(422, 'Invalid attribute', `${name} is required`, { pointer: '/data/attributes' });
    return value;
  },
};
