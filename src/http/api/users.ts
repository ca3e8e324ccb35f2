/** Back-office users at {prefix}/api/users (and, for admins, storefront users at {prefix}/api/customerusers). */
import type { FastifyInstance } from 'fastify';
import type { Side } from '../../oauth/sides.js';
import type { BackofficeUser } from '../../storage/repositories.js';
import type { HttpContext } from '../context.js';
import { actionOf, pageLinks, pickFields, readQuery, sendDocument } from './json-api.js';

const USER_ATTRIBUTES = ['username', 'email', 'enabled', 'locked', 'admin', 'createdAt', 'updatedAt'] as const;

export function userRoutes(app: FastifyInstance, ctx: HttpContext, side: Side): void {
  const { grantry } = ctx;
  const base = `${grantry.config.publicUrl}${side.apiPath}/users`;
  const resource = (u: BackofficeUser, fields: readonly string[] | undefined) => ({
    type: 'users',
    id: String(u.id),
    attributes: pickFields(
      {
        username: u.username,
        email: u.email,
        enabled: u.enabled,
        locked: u.locked,
        admin: u.isAdmin,
        createdAt: new Date(u.createdAt * 1000).toISOString(),
        updatedAt: new Date(u.updatedAt * 1000).toISOString(),
      },
      fields,
    ),
    links: { self: `${base}/${u.id}` },
  });

  app.get('/users', { config: { scope: 'users:read' } }, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES, { filters: ['search'] });
    const { items, total } = await grantry.users.list(actionOf(request), 'backoffice', { search: query.filter.search, page: query.page.number, size: query.page.size });
    return sendDocument(reply, 200, { data: items.map((u) => resource(u as BackofficeUser, query.fields)), ...pageLinks(base, request, query.page, total) });
  });

  app.get('/users/:id', { config: { scope: 'users:read' } }, async (request, reply) => {
    const query = readQuery(request, 'users', USER_ATTRIBUTES);
    const user = await grantry.users.get(actionOf(request), 'backoffice', (request.params as { id: string }).id);
    return sendDocument(reply, 200, { data: resource(user as BackofficeUser, query.fields) });
  });
}
