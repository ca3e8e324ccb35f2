/**
 * OAuth applications at {prefix}/api/oauthapplications, for automation such as a CI pipeline
 * that registers its app: list, show, create, update (with `active` to deactivate or activate),
 * delete, and the console's two actions: POST /:id/secret (a new secret, answered once with the
 * application) and POST /:id/revoke-tokens (meta.revokedGrants). Every change goes through
 * ClientManager, the code path of the console and the CLI: who may do what (admins all
 * applications of both sides, other back-office users their own back-office ones, anything else
 * 404) and every rule of a client's settings are decided there.
 *
 * The id is the client_id. The secret is an attribute of the create and regenerate answers
 * only: it is never stored in clear, so no GET could show it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClientListQuery, ClientUpdate, NewClientInput } from '../../management/clients.js';
import { ManagementError } from '../../management/errors.js';
import { checkedSearch } from '../../management/listing.js';
import { type Side, SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import { parseId } from '../../security/input.js';
import { type Client, type ClientType, GRANT_TYPES, type GrantType } from '../../storage/repositories.js';
import type { HttpContext } from '../context.js';
import { actionOf, ApiRequestError, attribute, isoTime, pageLinks, pickFields, readQuery, readResource, type ResourceInput, sendDocument, sendNoContent } from './json-api.js';

const TYPE = 'oauthapplications';
const ATTRIBUTES = [
  'side',
  'name',
  'clientType',
  'grants',
  'redirectUris',
  'scopes',
  'skipConsent',
  'allowGuests',
  'postLogoutRedirectUris',
  'idTokenSignedResponseAlg',
  'subjectType',
  'active',
  'createdAt',
  'updatedAt',
  'lastUsedAt',
] as const;
/** What fields[oauthapplications] may name: the attributes and the owner relationship. */
const FIELDS = [...ATTRIBUTES, 'owner'];
/** The settings a create or update document may carry; side and clientType are fixed once created. */
const SETTINGS = ['name', 'grants', 'redirectUris', 'scopes', 'skipConsent', 'allowGuests', 'postLogoutRedirectUris', 'idTokenSignedResponseAlg', 'subjectType', 'active'] as const;
const FILTERS = ['side', 'type', 'grant', 'active', 'search', 'owner'] as const;
const CLIENT_TYPES: readonly ClientType[] = ['confidential', 'public'];
/** An owner is a user of the application's side: `users` in the back office, `customerusers` in the storefront. */
const OWNER_TYPE: Record<SideName, string> = { backoffice: 'users', storefront: 'customerusers' };

/** A filter value that must be one of `choices`; anything else is 400 naming the parameter. */
function oneOf<T extends string>(value: string | undefined, name: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw ApiRequestError.badParameter(`filter[${name}]`, `filter[${name}] must be one of ${choices.join(', ')}`);
  return value as T;
}

/** The list query of ClientManager.list from filter[...] parameters, each checked as a parameter. */
function listQuery(filter: Record<string, string>, page: { number: number; size: number }): ClientListQuery {
  const active = oneOf(filter.active, 'active', ['true', 'false'] as const);
  let ownerUserId: number | undefined;
  if (filter.owner !== undefined) {
    ownerUserId = parseId(filter.owner);
    if (ownerUserId === undefined) throw ApiRequestError.badParameter('filter[owner]', 'filter[owner] must be a user id');
  }
  try {
    checkedSearch(filter.search);
  } catch (e) {
    if (e instanceof ManagementError) throw ApiRequestError.badParameter('filter[search]', e.message);
    throw e;
  }
  return {
    side: oneOf(filter.side, 'side', SIDE_NAMES),
    type: oneOf(filter.type, 'type', CLIENT_TYPES),
    grant: oneOf(filter.grant, 'grant', GRANT_TYPES as readonly GrantType[]),
    active: active === undefined ? undefined : active === 'true',
    search: filter.search,
    ownerUserId,
    page: page.number,
    size: page.size,
  };
}

/** The ID token algorithm a document gives: a name, null (back to the server's signing key) or undefined (not given). */
function idTokenAlgOf(attributes: Record<string, unknown>): string | null | undefined {
  const v = attributes.idTokenSignedResponseAlg;
  if (v === undefined || v === null || typeof v === 'string') return v;
  throw ApiRequestError.invalidAttribute('idTokenSignedResponseAlg', "idTokenSignedResponseAlg must be a string, or null for the server's signing key");
}

/** The settings a document gives, typed; those it leaves out are undefined. */
function settingsOf(input: ResourceInput) {
  const a = input.attributes;
  return {
    name: attribute.string(a, 'name'),
    grants: attribute.strings(a, 'grants'),
    redirectUris: attribute.strings(a, 'redirectUris'),
    scopes: attribute.strings(a, 'scopes'),
    skipConsent: attribute.boolean(a, 'skipConsent'),
    allowGuests: attribute.boolean(a, 'allowGuests'),
    postLogoutRedirectUris: attribute.strings(a, 'postLogoutRedirectUris'),
    idTokenSignedResponseAlg: idTokenAlgOf(a),
    subjectType: attribute.string(a, 'subjectType'),
    active: attribute.boolean(a, 'active'),
  };
}

/**
 * The owner a document names, as the user id ClientManager takes: a user of the application's
 * side, by its JSON:API id. undefined when the document names none, null when it says "none".
 */
function ownerOf(input: ResourceInput, side: SideName): string | null | undefined {
  if (!Object.hasOwn(input.relationships, 'owner')) return undefined;
  const id = input.relationships.owner;
  if (id === null || id === undefined) return null;
  const type = input.relationshipTypes.owner;
  if (type !== OWNER_TYPE[side]) {
    throw new ApiRequestError(422, 'Invalid relationship', `the owner of a ${side} application is one of its ${OWNER_TYPE[side]}`, { pointer: '/data/relationships/owner/data/type' });
  }
  // JSON:API 1.1 §7.1.4: a related resource that does not exist is 404; an id that cannot be one does not.
  if (parseId(id) === undefined) throw new ApiRequestError(404, 'Not found', `no ${type} with this id`, { pointer: '/data/relationships/owner/data/id' });
  return id;
}

/**
 * ClientManager's refusals of a setting, pointing where this API spells it: the owner is a
 * relationship (and the detail drops the CLI option the shared message names), and the client
 * type is the attribute clientType, since JSON:API 1.1 §7.2.2.1 reserves `type`.
 */
async function pointingAtApiNames<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (e instanceof ManagementError && e.code === 'invalid_input' && e.field === 'owner') {
      throw new ApiRequestError(422, 'Invalid relationship', e.message.replace(' (--owner)', ''), { pointer: '/data/relationships/owner' });
    }
    if (e instanceof ManagementError && e.code === 'invalid_input' && e.field === 'type') throw ApiRequestError.invalidAttribute('clientType', e.message);
    throw e;
  }
}

export function applicationRoutes(app: FastifyInstance, ctx: HttpContext, side: Side): void {
  const { clients } = ctx.grantry;
  const base = `${ctx.grantry.config.publicUrl}${side.apiPath}/${TYPE}`;
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;

  /** The resource object of a client; `secret` only in the answers that make one, whatever fields were asked (it is shown once). */
  const resource = (c: Client, fields: readonly string[] | undefined, secret?: string) => {
    const attributes = pickFields(
      {
        side: c.side,
        name: c.name,
        clientType: c.type,
        grants: c.grants,
        redirectUris: c.redirectUris,
        scopes: c.scopes,
        skipConsent: c.skipConsent,
        allowGuests: c.allowGuests,
        postLogoutRedirectUris: c.postLogoutRedirectUris,
        idTokenSignedResponseAlg: c.idTokenSignedResponseAlg,
        subjectType: c.subjectType,
        active: c.active,
        createdAt: isoTime(c.createdAt),
        updatedAt: isoTime(c.updatedAt),
        lastUsedAt: c.lastUsedAt === null ? null : isoTime(c.lastUsedAt),
      },
      fields,
    );
    const owner = { data: c.ownerUserId === null ? null : { type: OWNER_TYPE[c.side], id: String(c.ownerUserId) } };
    return {
      type: TYPE,
      id: c.clientId,
      attributes: secret === undefined ? attributes : { ...attributes, secret },
      ...(fields === undefined || fields.includes('owner') ? { relationships: { owner } } : {}),
      links: { self: `${base}/${encodeURIComponent(c.clientId)}` },
    };
  };

  app.get(`/${TYPE}`, { config: { scope: 'applications:read' } }, async (request, reply) => {
    const query = readQuery(request, TYPE, FIELDS, { filters: FILTERS });
    const { items, total } = await clients.list(actionOf(request), listQuery(query.filter, query.page));
    return sendDocument(reply, 200, { data: items.map((c) => resource(c, query.fields)), ...pageLinks(base, request, query.page, total) });
  });

  app.get(`/${TYPE}/:id`, { config: { scope: 'applications:read' } }, async (request, reply) => {
    const query = readQuery(request, TYPE, FIELDS);
    const client = await clients.get(actionOf(request), idOf(request));
    return sendDocument(reply, 200, { data: resource(client, query.fields) });
  });

  app.post(`/${TYPE}`, { config: { scope: 'applications:write' } }, async (request, reply) => {
    const { fields } = readQuery(request, TYPE, FIELDS);
    const action = actionOf(request);
    const input = readResource(request.body, TYPE, { attributes: ['side', 'clientType', ...SETTINGS], relationships: ['owner'] });
    const settings = settingsOf(input);
    const sideName = (attribute.string(input.attributes, 'side') ?? 'backoffice') as SideName;
    // A side that is none: ClientManager refuses it, pointing at the side rather than the owner.
    const owner = SIDE_NAMES.includes(sideName) ? ownerOf(input, sideName) : undefined;
    const created: NewClientInput = {
      side: sideName,
      type: attribute.string(input.attributes, 'clientType') as ClientType,
      name: attribute.required(settings.name, 'name'),
      grants: settings.grants ?? [],
      redirectUris: settings.redirectUris ?? [],
      scopes: settings.scopes,
      skipConsent: settings.skipConsent,
      allowGuests: settings.allowGuests,
      postLogoutRedirectUris: settings.postLogoutRedirectUris,
      idTokenSignedResponseAlg: settings.idTokenSignedResponseAlg,
      subjectType: settings.subjectType,
      ...(owner != null ? { owner } : {}),
    };
    const registered = await pointingAtApiNames(clients.create(action, created));
    // Registered inactive: created, then deactivated, as the console would do it in two steps.
    const client = settings.active === false ? await clients.setActive(action, registered.client.clientId, false) : registered.client;
    const document = { data: resource(client, fields, registered.clientSecret) };
    return sendDocument(reply.header('Location', document.data.links.self), 201, document);
  });

  app.patch(`/${TYPE}/:id`, { config: { scope: 'applications:write' } }, async (request, reply) => {
    const { fields } = readQuery(request, TYPE, FIELDS);
    const action = actionOf(request);
    const current = await clients.get(action, idOf(request));
    const input = readResource(request.body, TYPE, { id: current.clientId, attributes: ['side', 'clientType', ...SETTINGS], relationships: ['owner'] });
    // A document may carry the whole resource back (JSON:API 1.1 §7.2.1); only what can change may differ.
    for (const [name, value] of [['side', current.side], ['clientType', current.type]] as const) {
      if (input.attributes[name] !== undefined && input.attributes[name] !== value) {
        throw new ApiRequestError(403, 'Forbidden', `the ${name} of an application cannot be changed; register another application`, { pointer: `/data/attributes/${name}` });
      }
    }
    const { active, ...settings } = settingsOf(input);
    const owner = ownerOf(input, current.side);
    if (owner === null) throw new ApiRequestError(403, 'Forbidden', 'an owner can be replaced, not removed', { pointer: '/data/relationships/owner' });
    const changes: ClientUpdate = Object.fromEntries(Object.entries({ ...settings, owner }).filter(([, v]) => v !== undefined));
    let client = Object.keys(changes).length > 0 ? await pointingAtApiNames(clients.update(action, current.clientId, changes)) : current;
    if (active !== undefined && active !== client.active) client = await clients.setActive(action, client.clientId, active);
    return sendDocument(reply, 200, { data: resource(client, fields) });
  });

  app.delete(`/${TYPE}/:id`, { config: { scope: 'applications:write' } }, async (request, reply) => {
    readQuery(request, TYPE, FIELDS);
    await clients.delete(actionOf(request), idOf(request));
    return sendNoContent(reply);
  });

  app.post(`/${TYPE}/:id/secret`, { config: { scope: 'applications:write' } }, async (request, reply) => {
    const { fields } = readQuery(request, TYPE, FIELDS);
    const { client, clientSecret } = await clients.rotateSecret(actionOf(request), idOf(request));
    return sendDocument(reply, 200, { data: resource(client, fields, clientSecret) });
  });

  app.post(`/${TYPE}/:id/revoke-tokens`, { config: { scope: 'applications:write' } }, async (request, reply) => {
    readQuery(request, TYPE, FIELDS);
    const revokedGrants = await clients.revokeTokens(actionOf(request), idOf(request));
    return sendDocument(reply, 200, { meta: { revokedGrants } });
  });
}
