/** The storefront JSON:API: GET /api/customerusers/mine, the customer user the token acts for. */
import type { FastifyInstance } from 'fastify';
import type { Side } from '../../oauth/sides.js';
import type { HttpContext } from '../context.js';
import { protectApi, sendApiError, sendDocument } from './json-api.js';

export function storefrontApiRoutes(ctx: HttpContext, side: Side) {
  return async function plugin(app: FastifyInstance) {
    protectApi(app, ctx, side);

    app.get('/customerusers/mine', { config: { scope: 'users:read' } }, async (request, reply) => {
      const userId = request.accessToken?.userId;
      const user = userId != null ? await ctx.grantry.repos.users.findCustomerUser(userId) : undefined;
      if (!user) return sendApiError(reply, 403, 'Forbidden', 'the access token does not act for a customer user');
      return sendDocument(reply, 200, {
        data: {
          type: 'customerusers',
          id: String(user.id),
          attributes: {
            email: user.email,
            firstName: user.firstName,
            lastName: user.lastName,
            enabled: user.enabled,
            createdAt: new Date(user.createdAt * 1000).toISOString(),
          },
          links: { self: `${ctx.grantry.config.publicUrl}${side.apiPath}/customerusers/mine` },
        },
      });
    });
  };
}
