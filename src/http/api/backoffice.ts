/** The back-office JSON:API: GET {prefix}/api/users and GET {prefix}/api/users/{id}. */
import type { FastifyInstance } from 'fastify';
import type { Side } from '../../oauth/sides.js';
import { parseId } from '../../security/input.js';
import type { BackofficeUser } from '../../storage/repositories.js';
import type { HttpContext } from '../context.js';
import { pagination, protectApi, sendApiError, sendDocument } from './json-api.js';

export function backofficeApiRoutes(ctx: HttpContext, side: Side) {
  const base = `${ctx.grantry.config.publicUrl}${side.apiPath}/users`;
  const resource = (u: BackofficeUser) => ({
    type: 'users',
    id: String(u.id),
    attributes: {
      username: u.username,
      email: u.email,
      enabled: u.enabled,
      locked: u.locked,
      admin: u.isAdmin,
      createdAt: new Date(u.createdAt * 1000).toISOString(),
      updatedAt: new Date(u.updatedAt * 1000).toISOString(),
    },
    links: { self: `${base}/${u.id}` },
  });

  return async function plugin(app: FastifyInstance) {
    protectApi(app, ctx, side);

    app.get('/users', async (request, reply) => {
      const page = pagination(request.query as Record<string, unknown>);
      if (typeof page === 'string') return sendApiError(reply, 400, 'Bad request', page);
      const { items, total } = await ctx.grantry.repos.users.listBackofficeUsers((page.number - 1) * page.size, page.size);
      const link = (n: number) => `${base}?${new URLSearchParams({ 'page[number]': String(n), 'page[size]': String(page.size) })}`;
      const last = Math.max(1, Math.ceil(total / page.size));
      return sendDocument(reply, 200, {
        data: items.map(resource),
        links: {
          self: link(page.number),
          first: link(1),
          last: link(last),
          ...(page.number > 1 ? { prev: link(Math.min(page.number - 1, last)) } : {}),
          ...(page.number < last ? { next: link(page.number + 1) } : {}),
        },
        meta: { totalCount: total },
      });
    });

    app.get('/users/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      const n = parseId(id);
      const user = n !== undefined ? await ctx.grantry.repos.users.findBackofficeUser(n) : undefined;
      if (!user) return sendApiError(reply, 404, 'Not found', 'no user with that id');
      return sendDocument(reply, 200, { data: resource(user) });
    });
  };
}
