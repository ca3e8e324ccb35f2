/**
 * The administration console at {backend_prefix}/console: server-rendered pages on the
 * back-office login and session. Admins manage applications of both sides, users, signing keys
 * and read the audit trail; every back-office user manages their own applications. The pages
 * parse and render; what each user may do is decided in src/management.
 */
import type { FastifyInstance } from 'fastify';
import type { Side } from '../../oauth/sides.js';
import type { HttpContext } from '../context.js';
import { CONSOLE_SCRIPT, CONSOLE_SCRIPT_PATH, CONSOLE_STYLESHEET, CONSOLE_STYLESHEET_PATH } from '../views/console/layout.js';
import { profilePage } from '../views/console/users.js';
import { adminRoutes } from './admin.js';
import { applicationRoutes } from './applications.js';
import { Console } from './shared.js';

export function consoleRoutes(ctx: HttpContext, side: Side) {
  const con = new Console(ctx, side);
  const { base } = con;

  return async function plugin(app: FastifyInstance) {
    app.get(CONSOLE_STYLESHEET_PATH, async (_request, reply) =>
      reply.header('Content-Type', 'text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(CONSOLE_STYLESHEET),
    );
    app.get(CONSOLE_SCRIPT_PATH, async (_request, reply) =>
      reply.header('Content-Type', 'text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(CONSOLE_SCRIPT),
    );

    // The start page: everything for admins, one's own applications for everyone else.
    app.get(base, async (request, reply) => {
      const visitor = await con.visitor(request, reply);
      if (!visitor) return reply;
      return reply.code(303).header('Cache-Control', 'no-store').header('Location', visitor.user.isAdmin ? `${base}/applications` : `${base}/my/applications`).send();
    });

    app.get(`${base}/profile`, async (request, reply) => {
      const visitor = await con.visitor(request, reply);
      if (!visitor) return reply;
      return con.send(reply, 200, profilePage(visitor.frame, { user: visitor.user, accountPath: side.accountPath }));
    });

    await app.register(applicationRoutes(con, false));
    await app.register(applicationRoutes(con, true));
    await app.register(adminRoutes(con));
  };
}
