/**
 * Back-office users at {prefix}/api/users and, for admins, storefront users at
 * {prefix}/api/customerusers; customerUserResource is also the storefront's
 * /api/customerusers/mine. Every change goes through UserManager, the code path of the console
 * and the CLI, which decides what the token's user may do: admins everything; other back-office
 * users read themselves (anyone else is 404); customers only reach the storefront's /mine.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UserChanges } from '../../management/users.js';
import type { Side } from '../../oauth/sides.js';
import type { BackofficeUser, CustomerUser } from '../../storage/repositories.js';
import type { HttpContext } from '../context.js';
import { actionOf, ApiRequestError, attribute, isoTime, pageLinks, pickFields, readQuery, readResource, sendDocument, sendNoContent } from './json-api.js';

export const USER_ATTRIBUTES = ['username', 'email', 'enabled', 'locked', 'admin', 'createdAt', 'updatedAt'] as const;
export const CUSTOMER_USER_ATTRIBUTES = ['email', 'firstName', 'lastName', 'enabled', 'createdAt', 'updatedAt'] as const;

/** A back-office user as a `users` resource object. */
function userResource(u: BackofficeUser, self: string, fields: readonly string[] | undefined) {
  return {
    type: 'users',
    id: String(u.id),
    attributes: pickFields(
      { username: u.username, email: u.email, enabled: u.enabled, locked: u.locked, admin: u.isAdmin, createdAt: isoTime(u.createdAt), updatedAt: isoTime(u.updatedAt) },
      fields,
    ),
    links: { self },
  };
}

/** A storefront user as a `customerusers` resource object, at `self`. */
export function customerUserResource(u: CustomerUser, self: string, fields: readonly string[] | undefined) {
  return {
    type: 'customerusers',
    id: String(u.id),
    attributes: pickFields(
      { email: u.email, firstName: u.firstName, lastName: u.lastName, enabled: u.enabled, createdAt: isoTime(u.createdAt), updatedAt: isoTime(u.updatedAt) },
      fields,
    ),
    links: { self },
  };
}

/**
 * The changes a PATCH document asks for, typed (a wrong type is 422 at the attribute). The
 * storefront's /mine reads its document with this too: which attributes a route takes is its
 * readResource list, and what the user may change is decided by UserManager.update.
 */
export function userChanges(attributes: Record<string, unknown>): UserChanges {
  return {
    email: attribute.string(attributes, 'email'),
    firstName: attribute.string(attributes, 'firstName'),
    lastName: attribute.string(attributes, 'lastName'),
    enabled: attribute.boolean(attributes, 'enabled'),
    locked: attribute.boolean(attributes, 'locked'),
    admin: attribute.boolean(attributes, 'admin'),
    password: attribute.string(attributes, 'password'),
  };
}

/**
 * The user id of the URL. Ids are numbers: anything else names no resource (UserManager would
 * also take a username or an email, which the API does not, so that each user has one URL).
 */
function idParam(request: FastifyRequest): string {
  const { id } = request.params as { id: string };
  if (!/^\d{1,19}$/.test(id)) throw new ApiRequestError(404, 'Not found', 'no such resource');
  return id;
}

export function userRoutes(app: FastifyInstance, ctx: HttpContext, side: Side): void {
  const { grantry } = ctx;
  const usersBase = `${grantry.config.publicUrl}${side.apiPath}/users`;
  const customersBase = `${grantry.config.publicUrl}${side.apiPath}/customerusers`;
  const read = { config: { scope: 'users:read' } };
  const write = { config: { scope: 'users:write' } };
  const user = (u: unknown, fields: readonly string[] | undefined) => userResource(u as BackofficeUser, `${usersBase}/${(u as BackofficeUser).id}`, fields);
  const customer = (u: unknown, fields: readonly string[] | undefined) => customerUserResource(u as CustomerUser, `${customersBase}/${(u as CustomerUser).id}`, fields);

  // --- users: back-office users ---------------------------------------------------------------

  app.get('/users', read, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES, { filters: ['search'] });
    const { items, total } = await grantry.users.list(actionOf(request), 'backoffice', { search: query.filter.search, page: query.page.number, size: query.page.size });
    return sendDocument(reply, 200, { data: items.map((u) => user(u, query.fields)), ...pageLinks(usersBase, request, query.page, total) });
  });

  app.get('/users/:id', read, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES);
    return sendDocument(reply, 200, { data: user(await grantry.users.get(actionOf(request), 'backoffice', idParam(request)), query.fields) });
  });

  app.post('/users', write, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES);
    const { attributes } = readResource(request.body, 'users', { attributes: ['username', 'email', 'password', 'admin'] });
    const created = await grantry.users.createBackofficeUser(actionOf(request), {
      username: attribute.required(attribute.string(attributes, 'username'), 'username'),
      email: attribute.required(attribute.string(attributes, 'email'), 'email'),
      password: attribute.required(attribute.string(attributes, 'password'), 'password'),
      isAdmin: attribute.boolean(attributes, 'admin'),
    });
    const data = user(created, query.fields);
    return sendDocument(reply.header('Location', data.links.self), 201, { data });
  });

  app.patch('/users/:id', write, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES);
    const id = idParam(request);
    const { attributes } = readResource(request.body, 'users', { id, attributes: ['email', 'enabled', 'locked', 'admin', 'password'] });
    return sendDocument(reply, 200, { data: user(await grantry.users.update(actionOf(request), 'backoffice', id, userChanges(attributes)), query.fields) });
  });

  app.delete('/users/:id', write, async (request, reply) => {
    readQuery(request, 'users', []);
    await grantry.users.delete(actionOf(request), 'backoffice', idParam(request));
    return sendNoContent(reply);
  });

  // --- customerusers: storefront users, for admins ----------------------------------------------

  app.get('/customerusers', read, async (request, reply) => {
    const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES, { filters: ['search'] });
    const { items, total } = await grantry.users.list(actionOf(request), 'storefront', { search: query.filter.search, page: query.page.number, size: query.page.size });
    return sendDocument(reply, 200, { data: items.map((u) => customer(u, query.fields)), ...pageLinks(customersBase, request, query.page, total) });
  });

  app.get('/customerusers/:id', read, async (request, reply) => {
    const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES);
    return sendDocument(reply, 200, { data: customer(await grantry.users.get(actionOf(request), 'storefront', idParam(request)), query.fields) });
  });

  app.post('/customerusers', write, async (request, reply) => {
    const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES);
    const { attributes } = readResource(request.body, 'customerusers', { attributes: ['email', 'password', 'firstName', 'lastName'] });
    const created = await grantry.users.createCustomerUser(actionOf(request), {
      email: attribute.required(attribute.string(attributes, 'email'), 'email'),
      password: attribute.required(attribute.string(attributes, 'password'), 'password'),
      firstName: attribute.string(attributes, 'firstName'),
      lastName: attribute.string(attributes, 'lastName'),
    });
    const data = customer(created, query.fields);
    return sendDocument(reply.header('Location', data.links.self), 201, { data });
  });

  app.patch('/customerusers/:id', write, async (request, reply) => {
    const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES);
    const id = idParam(request);
    const { attributes } = readResource(request.body, 'customerusers', { id, attributes: ['email', 'firstName', 'lastName', 'enabled', 'password'] });
    return sendDocument(reply, 200, { data: customer(await grantry.users.update(actionOf(request), 'storefront', id, userChanges(attributes)), query.fields) });
  });

  app.delete('/customerusers/:id', write, async (request, reply) => {
    readQuery(request, 'customerusers', []);
    await grantry.users.delete(actionOf(request), 'storefront', idParam(request));
    return sendNoContent(reply);
  });
}
