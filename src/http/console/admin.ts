/**
 * The admin pages of the console: users of both sides, signing keys, the audit trail. Each page
 * is for admins only (403 otherwise); each action is the management method the CLI uses, which
 * checks the same again and keeps the rules (the last admin, yourself).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../config/index.js';
import { ManagementError } from '../../management/errors.js';
import { listKeys, rotateKeys } from '../../management/keys.js';
import type { SideName } from '../../oauth/sides.js';
import { parseId } from '../../security/input.js';
import { randomToken } from '../../security/tokens.js';
import { redirectAfterPost } from '../page-headers.js';
import { confirmPage, type FieldErrors, PAGE_SIZE } from '../views/console/common.js';
import { auditPage, type AuditFilters, keysPage } from '../views/console/system.js';
import { type AnyUser, passwordFormPage, type UserFormValues, userFormPage, userLabel, userPage, usersListPage } from '../views/console/users.js';
import { html } from '../views/html.js';
import { BadField, type Body, type Console, one, pageParam, pathParam, queryParam, sentence, typed, type Visitor } from './shared.js';

const USER_NOTICES: Record<string, string> = {
  created: 'User created.',
  updated: 'Changes saved.',
  deleted: 'User deleted, with their sessions and tokens.',
};

/** The user-form fields that show their own error; management names them as the form does. */
const USER_FORM_FIELDS: readonly string[] = ['username', 'email', 'password'];

/**
 * Which field a user-form ManagementError is about: the one it names, else (a duplicate, which
 * may be the username or the email) the email, else the whole form.
 */
function userErrorField(e: ManagementError): string {
  if (e.field !== undefined && USER_FORM_FIELDS.includes(e.field)) return e.field;
  if (/exists/i.test(e.message)) return 'email';
  return '_form';
}

/**
 * The password the admin chose with the form's radio buttons: generated here (and shown once)
 * for generate=yes, else the one typed (generate=no, or absent for a form without the choice).
 * A typed password with generate=yes is refused, not resolved either way: using the generated
 * one silently threw away what the admin typed (and would tell the user), and which one they
 * meant cannot be known.
 */
function chosenPassword(body: Body): { password: string; generated: boolean } {
  const choice = one(body, 'generate', 'The password choice', 3);
  const typed = one(body, 'password', 'The password', 1024);
  if (choice !== 'yes' && choice !== 'no' && choice !== '') throw new BadField('generate', 'Choose whether to type a password or to generate one');
  if (choice !== 'yes') return { password: typed, generated: false };
  if (typed !== '') throw new BadField('password', 'You typed a password and chose to generate one: choose "Type a password" to use the one you typed, or clear the field to generate one');
  return { password: randomToken(18), generated: true };
}

export function adminRoutes(con: Console) {
  const { ctx, base } = con;
  const { grantry } = ctx;
  const sides = grantry.sides.all.map((s) => s.name);
  const usersRoot = `${base}/users`;

  async function admin(request: FastifyRequest, reply: FastifyReply, post: boolean): Promise<Visitor | undefined> {
    const visitor = post ? await con.poster(request, reply) : await con.visitor(request, reply);
    if (!visitor) return undefined;
    if (!visitor.user.isAdmin) {
      con.forbidden(reply, visitor, { nav: 'my' });
      return undefined;
    }
    return visitor;
  }

  const sideOf = (value: unknown): SideName | undefined => (sides.includes(value as SideName) ? (value as SideName) : undefined);

  /** The user named by the path (:side/:id), or undefined after answering 404. */
  async function loadUser(request: FastifyRequest, reply: FastifyReply, visitor: Visitor): Promise<{ side: SideName; user: AnyUser } | undefined> {
    const side = sideOf(pathParam(request, 'side'));
    const id = parseId(pathParam(request, 'id') ?? '');
    if (!side || id === undefined) {
      con.notFound(reply, visitor, { nav: 'users' });
      return undefined;
    }
    try {
      return { side, user: await grantry.users.get(visitor.action, side, String(id)) };
    } catch (e) {
      con.refused(reply, visitor, e, { nav: 'users' });
      return undefined;
    }
  }

  return async function plugin(app: FastifyInstance) {
    // --- users ---------------------------------------------------------------------------
    app.get(usersRoot, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const side = sideOf(queryParam(request, 'side')) ?? 'backoffice';
      const q = queryParam(request, 'q');
      const page = pageParam(request);
      try {
        const result = await grantry.users.list(visitor.action, side, { search: q, page, size: PAGE_SIZE });
        const notice = USER_NOTICES[queryParam(request, 'done') ?? ''];
        return con.send(reply, 200, usersListPage(visitor.frame, { root: usersRoot, side, sides, users: result.items, q, page, total: result.total, notice }));
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
    });

    const emptyUser: UserFormValues = { username: '', email: '', firstName: '', lastName: '', isAdmin: false, generate: true };

    app.get(`${usersRoot}/new`, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const side = sideOf(queryParam(request, 'side')) ?? 'backoffice';
      return con.send(reply, 200, userFormPage(visitor.frame, { root: usersRoot, side, values: emptyUser, errors: {} }));
    });

    app.post(`${usersRoot}/new`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const body = (request.body ?? {}) as Body;
      const side = sideOf(body.side) ?? 'backoffice';
      const values: UserFormValues = {
        username: typed(body.username),
        email: typed(body.email),
        firstName: typed(body.first_name),
        lastName: typed(body.last_name),
        isAdmin: body.is_admin === 'yes',
        generate: body.generate === 'yes',
      };
      try {
        const { password, generated } = chosenPassword(body);
        const user =
          side === 'backoffice'
            ? await grantry.users.createBackofficeUser(visitor.action, {
                username: one(body, 'username', 'The username', 255).trim(),
                email: one(body, 'email', 'The email', 320).trim(),
                password,
                isAdmin: values.isAdmin,
              })
            : await grantry.users.createCustomerUser(visitor.action, {
                email: one(body, 'email', 'The email', 320).trim(),
                password,
                firstName: one(body, 'first_name', 'The first name', 255).trim() || undefined,
                lastName: one(body, 'last_name', 'The last name', 255).trim() || undefined,
              });
        if (!generated) return redirectAfterPost(reply, `${usersRoot}/${side}/${user.id}?done=created`);
        // A generated password is shown in this answer only, never stored in clear or put in a URL.
        return con.send(reply, 201, userPage(visitor.frame, { root: usersRoot, side, user, notice: 'User created.', password }));
      } catch (e) {
        if (e instanceof BadField) return con.send(reply, 400, userFormPage(visitor.frame, { root: usersRoot, side, values, errors: { [e.field]: sentence(e.message) } }));
        if (e instanceof ManagementError && (e.code === 'invalid_input' || e.code === 'conflict')) {
          return con.send(reply, e.code === 'conflict' ? 409 : 400, userFormPage(visitor.frame, { root: usersRoot, side, values, errors: { [userErrorField(e)]: sentence(e.message) } }));
        }
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
    });

    app.get(`${usersRoot}/:side/:id`, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      return con.send(reply, 200, userPage(visitor.frame, { root: usersRoot, ...found, notice: USER_NOTICES[queryParam(request, 'done') ?? ''] }));
    });

    app.post(`${usersRoot}/:side/:id/flag`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      const body = request.body as Body;
      try {
        if ((body.flag !== 'enabled' && body.flag !== 'locked') || (body.value !== 'yes' && body.value !== 'no')) throw new ManagementError('the form did not say what to change');
        await grantry.users.setFlag(visitor.action, found.side, String(found.user.id), body.flag, body.value === 'yes');
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
      return redirectAfterPost(reply, `${usersRoot}/${found.side}/${found.user.id}?done=updated`);
    });

    app.post(`${usersRoot}/:side/:id/admin`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      const value = (request.body as Body).value;
      try {
        if (found.side !== 'backoffice') throw new ManagementError('no such user', 'not_found');
        if (value !== 'yes' && value !== 'no') throw new ManagementError('the form did not say what to change');
        await grantry.users.setAdmin(visitor.action, String(found.user.id), value === 'yes');
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
      return redirectAfterPost(reply, `${usersRoot}/${found.side}/${found.user.id}?done=updated`);
    });

    app.get(`${usersRoot}/:side/:id/password`, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      return con.send(reply, 200, passwordFormPage(visitor.frame, { root: usersRoot, ...found, generate: true, errors: {} }));
    });

    app.post(`${usersRoot}/:side/:id/password`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      try {
        const { password, generated } = chosenPassword(request.body as Body);
        const user = await grantry.users.setPassword(visitor.action, found.side, String(found.user.id), password);
        return con.send(reply, 200, userPage(visitor.frame, { root: usersRoot, side: found.side, user, notice: 'Password set.', password: generated ? password : undefined }));
      } catch (e) {
        if (e instanceof BadField || (e instanceof ManagementError && e.code === 'invalid_input')) {
          const field = e instanceof BadField ? e.field : 'password';
          const generate = (request.body as Body).generate === 'yes';
          return con.send(reply, 400, passwordFormPage(visitor.frame, { root: usersRoot, ...found, generate, errors: { [field]: sentence(e.message) } }));
        }
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
    });

    const deleteConfirmation = (visitor: Visitor, side: SideName, user: AnyUser) => {
      const self = `${usersRoot}/${side}/${user.id}`;
      return confirmPage(
        visitor.frame,
        {
          title: `Delete ${userLabel(user)}?`,
          question: html`Delete the ${side === 'backoffice' ? 'back-office' : 'storefront'} user <strong>${userLabel(user)}</strong> (id ${user.id})?`,
          consequence: 'Their sessions, grants and tokens are deleted with them. This cannot be undone.',
          action: `${self}/delete`,
          button: 'Delete user',
          cancel: self,
        },
        { nav: 'users', breadcrumbs: [{ href: `${usersRoot}?side=${side}`, label: 'Users' }, { href: self, label: userLabel(user) }] },
      );
    };

    app.get(`${usersRoot}/:side/:id/delete`, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      return con.send(reply, 200, deleteConfirmation(visitor, found.side, found.user));
    });

    app.post(`${usersRoot}/:side/:id/delete`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const found = await loadUser(request, reply, visitor);
      if (!found) return reply;
      if ((request.body as Body).confirm !== 'yes') return con.send(reply, 200, deleteConfirmation(visitor, found.side, found.user));
      try {
        await grantry.users.delete(visitor.action, found.side, String(found.user.id));
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: 'users' });
      }
      return redirectAfterPost(reply, `${usersRoot}?side=${found.side}&done=deleted`);
    });

    // --- signing keys ----------------------------------------------------------------------
    const keysRoot = `${base}/keys`;
    const showKeys = (reply: FastifyReply, visitor: Visitor, status: number, values: { alg: string; delay: string }, errors: FieldErrors, notice?: string) =>
      con.send(reply, status, keysPage(visitor.frame, { root: keysRoot, keys: listKeys(visitor.action, grantry.keys), algorithms: SIGNING_ALGORITHMS, values, errors, notice }));
    const defaultRotation = () => ({ alg: grantry.config.signingAlgorithm, delay: String(grantry.config.keyRotationDelay) });

    app.get(keysRoot, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      try {
        return showKeys(reply, visitor, 200, defaultRotation(), {}, queryParam(request, 'done') === 'rotated' ? 'A new signing key was added.' : undefined);
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: 'keys' });
      }
    });

    app.post(`${keysRoot}/rotate`, async (request, reply) => {
      const visitor = await admin(request, reply, true);
      if (!visitor) return reply;
      const body = request.body as Body;
      const values = { alg: typeof body.alg === 'string' ? body.alg : '', delay: typeof body.delay === 'string' ? body.delay : '' };
      try {
        const delayText = one(body, 'delay', 'The delay', 20).trim();
        if (!/^\d{1,9}$/.test(delayText)) throw new BadField('delay', 'The delay must be a whole number of seconds');
        await rotateKeys(visitor.action, grantry.keys, grantry.audit, one(body, 'alg', 'The algorithm', 20) as SigningAlgorithm, Number(delayText));
      } catch (e) {
        if (e instanceof BadField) return showKeys(reply, visitor, 400, values, { [e.field]: sentence(e.message) });
        if (e instanceof ManagementError && e.code === 'invalid_input') return showKeys(reply, visitor, 400, values, { [/algorithm/.test(e.message) ? 'alg' : 'delay']: sentence(e.message) });
        return con.refused(reply, visitor, e, { nav: 'keys' });
      }
      return redirectAfterPost(reply, `${keysRoot}?done=rotated`);
    });

    // --- audit trail -----------------------------------------------------------------------
    const auditRoot = `${base}/audit`;
    app.get(auditRoot, async (request, reply) => {
      const visitor = await admin(request, reply, false);
      if (!visitor) return reply;
      const filters: AuditFilters = { kind: queryParam(request, 'kind'), side: queryParam(request, 'side'), user: queryParam(request, 'user'), client: queryParam(request, 'client', 255) };
      const page = pageParam(request);
      const side = sideOf(filters.side);
      const userId = filters.user ? parseId(filters.user) : undefined;
      let error: string | undefined;
      if (filters.user && userId === undefined) error = 'The user id must be a number.';
      else if (userId !== undefined && !side) error = 'Choose the side of the user too.';
      try {
        const result = error
          ? { items: [], total: 0 }
          : await grantry.audit.list(visitor.action, { kind: filters.kind, side, userId, clientId: filters.client, page, size: PAGE_SIZE });
        return con.send(reply, error ? 400 : 200, auditPage(visitor.frame, { root: auditRoot, events: result.items, kinds: grantry.audit.kinds, sides, filters, page, total: result.total, error }));
      } catch (e) {
        if (e instanceof ManagementError && e.code === 'invalid_input') {
          return con.send(reply, 400, auditPage(visitor.frame, { root: auditRoot, events: [], kinds: grantry.audit.kinds, sides, filters, page, total: 0, error: sentence(e.message) }));
        }
        return con.refused(reply, visitor, e, { nav: 'audit' });
      }
    });
  };
}
