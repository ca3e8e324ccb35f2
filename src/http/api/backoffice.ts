/**
 * The back-office JSON:API at {prefix}/api: users and customer users (users.ts) and OAuth
 * applications (applications.ts). Each route declares its scope; what the token's user may see
 * and change is decided by src/management, as for the console and the CLI.
 */
import type { FastifyInstance } from 'fastify';
import type { Side } from '../../oauth/sides.js';
import type { HttpContext } from '../context.js';
import { applicationRoutes } from './applications.js';
import { protectApi } from './json-api.js';
import { userRoutes } from './users.js';

export function backofficeApiRoutes(ctx: HttpContext, side: Side) {
  return async function plugin(app: FastifyInstance) {
    protectApi(app, ctx, side);
    userRoutes(app, ctx, side);
    applicationRoutes(app, ctx, side);
  };
}
