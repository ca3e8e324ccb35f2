/**
 * The storefront JSON:API: /api/customerusers/mine, the customer user the token acts for, to
 * read (users:read) and to change their email and names (users:write), through UserManager as
 * for admins. The password is not changed here: that needs the current one (the account page).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CustomerUser } from '../../storage/repositories.js';
import type { Side } from '../../oauth/sides.js';
import type { HttpContext } from '../context.js';
import { actionOf, protectApi, readQuery, readResource, sendDocument } from './json-api.js';
import { CUSTOMER_USER_ATTRIBUTES, customerUserResource, userChanges } from './users.js';

export function storefrontApiRoutes(ctx: HttpContext, side: Side) {
  const { grantry } = ctx;
  const self = `${grantry.config.publicUrl}${side.apiPath}/customerusers/mine`;
  /** The id of the customer the token acts for (a guest's token acts for nobody: 403). */
  const mine = (request: FastifyRequest) => {
    const { principal } = actionOf(request);
    // The storefront API's principals are always its users (json-api.ts principalOf).
    return String((principal as { userId: number }).userId);
  };

  return async function plugin(app: FastifyInstance) {
    protectApi(app, ctx, side);

    app.get('/customerusers/mine', { config: { scope: 'users:read' } }, async (request, reply) => {
      const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES);
      const user = await grantry.users.get(actionOf(request), 'storefront', mine(request));
      return sendDocument(reply, 200, { data: customerUserResource(user as CustomerUser, self, query.fields) });
    });

    // The document names the customer's own id (JSON:API 1.1 §7.2.2: an update carries type and id).
    // password is read only to answer why it cannot be set here.
    app.patch('/customerusers/mine', { config: { scope: 'users:write' } }, async (request, reply) => {
      const query = readQuery(request, 'customerusers', CUSTOMER_USER_ATTRIBUTES);
      const id = mine(request);
      const { attributes } = readResource(request.body, 'customerusers', { id, attributes: ['email', 'firstName', 'lastName', 'password'] });
      const user = await grantry.users.update(actionOf(request), 'storefront', id, userChanges(attributes));
      return sendDocument(reply, 200, { data: customerUserResource(user as CustomerUser, self, query.fields) });
    });
  };
}
