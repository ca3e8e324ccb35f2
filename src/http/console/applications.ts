/**
 * Applications (OAuth clients) in the console: the admin's list of every application and each
 * user's "My applications", with the same pages. Every action goes through the one
 * ClientManager method the CLI uses, told who acts; what that user may see or change is decided
 * there (another user's application is simply not found).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SIGNING_ALGORITHMS } from '../../config/index.js';
import type { NewClientInput } from '../../management/clients.js';
import { ManagementError } from '../../management/errors.js';
import type { SideName } from '../../oauth/sides.js';
import { type Client, type ClientType, GRANT_TYPES, type GrantType, SUBJECT_TYPES } from '../../storage/repositories.js';
import { redirectAfterPost } from '../page-headers.js';
import {
  type AppSection,
  applicationFormPage,
  applicationPage,
  applicationsListPage,
  type ClientFormValues,
  type ListFilters,
  secretPage,
} from '../views/console/applications.js';
import { confirmPage, type FieldErrors, PAGE_SIZE } from '../views/console/common.js';
import { html } from '../views/html.js';
import { BadField, type Body, type Console, lines, many, one, pageParam, pathParam, queryParam, sentence, typed, type Visitor } from './shared.js';

/** Notices after a 303, chosen by a fixed key so the URL cannot put words on the page. */
const NOTICES: Record<string, string> = {
  saved: 'Changes saved.',
  activated: 'Application activated: its tokens work again.',
  deactivated: 'Application deactivated: its tokens stop working at once.',
  deleted: 'Application deleted, with its tokens.',
  revoked: 'Every token of the application was revoked.',
};

/**
 * The form field a ManagementError is about, so the message appears next to it: the field
 * ClientManager names (the form's fields are the JSON:API attribute names), else read from the
 * wording, for refusals that come from elsewhere (the owner lookup of UserManager).
 */
export function clientErrorField(e: ManagementError): string {
  if (e.field !== undefined) return e.field;
  const m = e.message;
  if (/consent/i.test(m)) return 'skipConsent';
  if (/redirect URI/i.test(m)) return 'redirectUris';
  if (/guest/i.test(m)) return 'allowGuests';
  if (/owner|user "/i.test(m)) return 'owner';
  if (/scope/i.test(m)) return 'scopes';
  if (/grant/i.test(m)) return 'grants';
  if (/client name|named|name must/i.test(m)) return 'name';
  if (/type/i.test(m)) return 'type';
  if (/side/i.test(m)) return 'side';
  return '_form';
}

/** The setting (ClientManager's name, as errors are keyed) of a form field whose name differs. */
const FORM_FIELD_SETTING: Record<string, string> = {
  redirect_uris: 'redirectUris',
  post_logout_redirect_uris: 'postLogoutRedirectUris',
  id_token_signed_response_alg: 'idTokenSignedResponseAlg',
  subject_type: 'subjectType',
};

function valuesOf(client: Client, ownerRef: string): ClientFormValues {
  return {
    side: client.side,
    name: client.name,
    type: client.type,
    grants: [...client.grants],
    redirectUris: client.redirectUris.join('\n'),
    postLogoutRedirectUris: client.postLogoutRedirectUris.join('\n'),
    idTokenSignedResponseAlg: client.idTokenSignedResponseAlg ?? '',
    subjectType: client.subjectType,
    scopes: [...client.scopes],
    owner: ownerRef,
    skipConsent: client.skipConsent,
    allowGuests: client.allowGuests,
  };
}

/** What the form sent, as typed (to show again after an error). Raw text only: no rule here. */
function submitted(body: Body): ClientFormValues {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
  return {
    side: typed(body.side),
    name: typed(body.name),
    type: typed(body.type),
    grants: list(body.grants),
    redirectUris: typed(body.redirect_uris),
    postLogoutRedirectUris: typed(body.post_logout_redirect_uris),
    idTokenSignedResponseAlg: typed(body.id_token_signed_response_alg),
    subjectType: typed(body.subject_type),
    scopes: list(body.scopes),
    owner: typed(body.owner),
    skipConsent: body.skip_consent === 'yes',
    allowGuests: body.allow_guests === 'yes',
  };
}

export function applicationRoutes(con: Console, mine: boolean) {
  const { ctx, base } = con;
  const { grantry } = ctx;
  const section: AppSection = mine
    ? { mine: true, root: `${base}/my/applications`, title: 'My applications', nav: 'my' }
    : { mine: false, root: `${base}/applications`, title: 'Applications', nav: 'applications' };
  const sides = grantry.sides.all.map((s) => s.name);
  const clients = grantry.clients;

  /** The visitor on this section: the admin list is for admins only (403 otherwise). */
  async function enter(request: FastifyRequest, reply: FastifyReply, post: boolean): Promise<Visitor | undefined> {
    const visitor = post ? await con.poster(request, reply) : await con.visitor(request, reply);
    if (!visitor) return undefined;
    if (!mine && !visitor.user.isAdmin) {
      con.forbidden(reply, visitor, { nav: 'my' });
      return undefined;
    }
    return visitor;
  }

  async function ownerName(client: Client): Promise<string | undefined> {
    if (client.ownerUserId === null) return undefined;
    if (client.side === 'backoffice') return (await grantry.repos.users.findBackofficeUser(client.ownerUserId))?.username;
    return (await grantry.repos.users.findCustomerUser(client.ownerUserId))?.email;
  }

  /**
   * The client named in the path, as the management layer lets this visitor see it; in "My
   * applications" also only the visitor's own (an admin's list holds everyone's).
   */
  async function load(request: FastifyRequest, reply: FastifyReply, visitor: Visitor): Promise<Client | undefined> {
    const clientId = pathParam(request, 'clientId');
    try {
      if (clientId === undefined) throw new ManagementError('no such client', 'not_found');
      const client = await clients.get(visitor.action, clientId);
      if (mine && client.ownerUserId !== visitor.user.id) throw new ManagementError('no such client', 'not_found');
      return client;
    } catch (e) {
      con.refused(reply, visitor, e, { nav: section.nav });
      return undefined;
    }
  }

  const formPage = (visitor: Visitor, values: ClientFormValues, errors: FieldErrors, client?: Client) =>
    applicationFormPage(visitor.frame, { section, client, values, errors, grantTypes: GRANT_TYPES, scopes: grantry.scopes.known, sides, algorithms: SIGNING_ALGORITHMS, subjectTypes: SUBJECT_TYPES });

  /**
   * The OpenID Connect settings of the form, as ClientManager takes them (which checks them): the
   * empty choice of the signature is the server's key; no subject type keeps the current one
   * (public for a new application).
   */
  const oidcSettings = (body: Body) => {
    const alg = one(body, 'id_token_signed_response_alg', 'The ID token signature', 20);
    return {
      postLogoutRedirectUris: lines(body, 'post_logout_redirect_uris', 'The post-logout redirect URIs'),
      idTokenSignedResponseAlg: alg === '' ? null : alg,
      subjectType: one(body, 'subject_type', 'The subject identifiers', 20) || undefined,
    };
  };

  /** A confirmation step: without confirm=yes a POST shows the question again and changes nothing. */
  function confirmation(visitor: Visitor, client: Client, what: 'delete' | 'revoke-tokens' | 'regenerate-secret'): string {
    const target = `${section.root}/${client.clientId}`;
    const texts = {
      delete: {
        title: `Delete ${client.name}?`,
        question: html`Delete the application <strong>${client.name}</strong> (<code>${client.clientId}</code>)?`,
        consequence: 'Its tokens, codes and grants are deleted with it, and apps using it stop working. This cannot be undone.',
        button: 'Delete application',
      },
      'revoke-tokens': {
        title: `Revoke the tokens of ${client.name}?`,
        question: html`Revoke every token issued to <strong>${client.name}</strong> (<code>${client.clientId}</code>)?`,
        consequence: 'Every user of this application is signed out of it and must authorize it again.',
        button: 'Revoke all tokens',
      },
      'regenerate-secret': {
        title: `Regenerate the secret of ${client.name}?`,
        question: html`Make a new client secret for <strong>${client.name}</strong> (<code>${client.clientId}</code>)?`,
        consequence: 'The current secret stops working at once: the application cannot get tokens until it uses the new one.',
        button: 'Regenerate secret',
      },
    }[what];
    return confirmPage(visitor.frame, { ...texts, action: `${target}/${what}`, cancel: target }, {
      nav: section.nav,
      breadcrumbs: [{ href: section.root, label: section.title }, { href: target, label: client.name }],
    });
  }

  return async function plugin(app: FastifyInstance) {
    app.get(section.root, async (request, reply) => {
      const visitor = await enter(request, reply, false);
      if (!visitor) return reply;
      const filters: ListFilters = {
        q: queryParam(request, 'q'),
        side: mine ? undefined : queryParam(request, 'side'),
        type: queryParam(request, 'type'),
        grant: queryParam(request, 'grant'),
        active: queryParam(request, 'active'),
      };
      const page = pageParam(request);
      // Filter values outside their lists are ignored, as if absent (a filter form offers no others).
      const side = sides.includes(filters.side as SideName) ? (filters.side as SideName) : undefined;
      const type = filters.type === 'confidential' || filters.type === 'public' ? (filters.type as ClientType) : undefined;
      const grant = (GRANT_TYPES as readonly string[]).includes(filters.grant ?? '') ? (filters.grant as GrantType) : undefined;
      const active = filters.active === 'yes' ? true : filters.active === 'no' ? false : undefined;
      try {
        const result = await clients.list(visitor.action, {
          side: mine ? 'backoffice' : side,
          type,
          grant,
          active,
          search: filters.q,
          ownerUserId: mine ? visitor.user.id : undefined,
          page,
          size: PAGE_SIZE,
        });
        const rows = await Promise.all(result.items.map(async (client) => ({ client, ownerName: await ownerName(client) })));
        const notice = NOTICES[queryParam(request, 'done') ?? ''];
        return con.send(reply, 200, applicationsListPage(visitor.frame, { section, rows, filters, page, total: result.total, grantTypes: GRANT_TYPES, notice, sides }));
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: section.nav });
      }
    });

    app.get(`${section.root}/new`, async (request, reply) => {
      const visitor = await enter(request, reply, false);
      if (!visitor) return reply;
      const values: ClientFormValues = {
        side: 'backoffice',
        name: '',
        type: 'confidential',
        grants: ['authorization_code'],
        redirectUris: '',
        postLogoutRedirectUris: '',
        idTokenSignedResponseAlg: '',
        subjectType: 'public',
        scopes: grantry.scopes.defaultClientScopes,
        owner: '',
        skipConsent: false,
        allowGuests: false,
      };
      return con.send(reply, 200, formPage(visitor, values, {}));
    });

    app.post(`${section.root}/new`, async (request, reply) => {
      const visitor = await enter(request, reply, true);
      if (!visitor) return reply;
      const body = (request.body ?? {}) as Body;
      const values = submitted(body);
      try {
        const sideText = mine ? 'backoffice' : one(body, 'side', 'The side');
        const input: NewClientInput = {
          side: (sides.includes(sideText as SideName) ? sideText : sideText === '' ? 'backoffice' : sideText) as SideName,
          name: one(body, 'name', 'The name', 255),
          type: one(body, 'type', 'The type') as ClientType,
          grants: many(body, 'grants', 'A grant type'),
          redirectUris: lines(body, 'redirect_uris', 'The redirect URIs'),
          scopes: many(body, 'scopes', 'A scope'),
          skipConsent: body.skip_consent === 'yes',
          allowGuests: !mine && body.allow_guests === 'yes',
          ...oidcSettings(body),
        };
        // My applications are the visitor's own: owned by them, acting as them with client credentials.
        const owner = mine ? String(visitor.user.id) : one(body, 'owner', 'The owner', 255).trim();
        if (owner !== '') input.owner = owner;
        if (!sides.includes(input.side)) throw new BadField('side', 'Choose the side of the application');
        const { client, clientSecret } = await clients.create(visitor.action, input);
        if (clientSecret === undefined) return redirectAfterPost(reply, `${section.root}/${client.clientId}?done=created`);
        // The secret is shown in the answer to this POST itself, never stored, put in a URL or shown again.
        return con.send(reply, 201, secretPage(visitor.frame, { section, client, secret: clientSecret, created: true }));
      } catch (e) {
        return formError(reply, visitor, e, values);
      }
    });

    function formError(reply: FastifyReply, visitor: Visitor, e: unknown, values: ClientFormValues, client?: Client) {
      if (e instanceof BadField) {
        const field = FORM_FIELD_SETTING[e.field] ?? e.field;
        return con.send(reply, 400, formPage(visitor, values, { [field]: sentence(e.message) }, client));
      }
      if (e instanceof ManagementError && (e.code === 'invalid_input' || e.code === 'conflict')) {
        const field = e.code === 'conflict' ? 'name' : clientErrorField(e);
        return con.send(reply, e.code === 'conflict' ? 409 : 400, formPage(visitor, values, { [field]: sentence(e.message) }, client));
      }
      // A setting only admins may choose (skip consent, the password grant), posted by a
      // non-admin although the form did not offer it: 403, with the form and the reason at the field.
      if (e instanceof ManagementError && e.code === 'forbidden') {
        const field = clientErrorField(e);
        if (field === 'skipConsent' || field === 'grants') return con.send(reply, 403, formPage(visitor, values, { [field]: sentence(e.message) }, client));
      }
      return con.refused(reply, visitor, e, { nav: section.nav });
    }

    app.get(`${section.root}/:clientId`, async (request, reply) => {
      const visitor = await enter(request, reply, false);
      if (!visitor) return reply;
      const client = await load(request, reply, visitor);
      if (!client) return reply;
      const done = queryParam(request, 'done');
      const notice = done === 'created' ? 'Application created.' : NOTICES[done ?? ''];
      return con.send(reply, 200, applicationPage(visitor.frame, { section, client, ownerName: await ownerName(client), notice }));
    });

    app.get(`${section.root}/:clientId/edit`, async (request, reply) => {
      const visitor = await enter(request, reply, false);
      if (!visitor) return reply;
      const client = await load(request, reply, visitor);
      if (!client) return reply;
      return con.send(reply, 200, formPage(visitor, valuesOf(client, (await ownerName(client)) ?? ''), {}, client));
    });

    app.post(`${section.root}/:clientId/edit`, async (request, reply) => {
      const visitor = await enter(request, reply, true);
      if (!visitor) return reply;
      const client = await load(request, reply, visitor);
      if (!client) return reply;
      const body = (request.body ?? {}) as Body;
      const values = { ...submitted(body), side: client.side, type: client.type };
      try {
        const owner = mine ? undefined : one(body, 'owner', 'The owner', 255).trim();
        await clients.update(visitor.action, client.clientId, {
          name: one(body, 'name', 'The name', 255),
          grants: many(body, 'grants', 'A grant type'),
          redirectUris: lines(body, 'redirect_uris', 'The redirect URIs'),
          scopes: many(body, 'scopes', 'A scope'),
          skipConsent: body.skip_consent === 'yes',
          ...(mine ? {} : { allowGuests: body.allow_guests === 'yes' }),
          ...oidcSettings(body),
          ...(owner ? { owner } : {}),
        });
        return redirectAfterPost(reply, `${section.root}/${client.clientId}?done=saved`);
      } catch (e) {
        return formError(reply, visitor, e, values, client);
      }
    });

    app.post(`${section.root}/:clientId/active`, async (request, reply) => {
      const visitor = await enter(request, reply, true);
      if (!visitor) return reply;
      const client = await load(request, reply, visitor);
      if (!client) return reply;
      const value = (request.body as Body).active;
      if (value !== 'yes' && value !== 'no') return con.refused(reply, visitor, new ManagementError('say whether the application is to be active'), { nav: section.nav });
      try {
        await clients.setActive(visitor.action, client.clientId, value === 'yes');
      } catch (e) {
        return con.refused(reply, visitor, e, { nav: section.nav });
      }
      return redirectAfterPost(reply, `${section.root}/${client.clientId}?done=${value === 'yes' ? 'activated' : 'deactivated'}`);
    });

    for (const what of ['delete', 'revoke-tokens', 'regenerate-secret'] as const) {
      app.get(`${section.root}/:clientId/${what}`, async (request, reply) => {
        const visitor = await enter(request, reply, false);
        if (!visitor) return reply;
        const client = await load(request, reply, visitor);
        if (!client) return reply;
        return con.send(reply, 200, confirmation(visitor, client, what));
      });

      app.post(`${section.root}/:clientId/${what}`, async (request, reply) => {
        const visitor = await enter(request, reply, true);
        if (!visitor) return reply;
        const client = await load(request, reply, visitor);
        if (!client) return reply;
        if ((request.body as Body).confirm !== 'yes') return con.send(reply, 200, confirmation(visitor, client, what));
        try {
          if (what === 'delete') {
            await clients.delete(visitor.action, client.clientId);
            return redirectAfterPost(reply, `${section.root}?done=deleted`);
          }
          if (what === 'revoke-tokens') {
            await clients.revokeTokens(visitor.action, client.clientId);
            return redirectAfterPost(reply, `${section.root}/${client.clientId}?done=revoked`);
          }
          const { clientSecret } = await clients.rotateSecret(visitor.action, client.clientId);
          return con.send(reply, 200, secretPage(visitor.frame, { section, client, secret: clientSecret, created: false }));
        } catch (e) {
          return con.refused(reply, visitor, e, { nav: section.nav });
        }
      });
    }
  };
}
