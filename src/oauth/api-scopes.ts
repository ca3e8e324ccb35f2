/**
 * Grantry's own API: its scope catalogue and the roles that may hold each scope. A route of the
 * JSON:API declares one of these scopes; a token must carry it (or `api`, which stands for all
 * of them) and its user's role must allow the action. The catalogue is always known, beside the
 * scopes a deployment configures for its own resource servers (the `scopes` setting).
 */

/**
 * What a user may do, from their side and admin right: a back-office admin manages everything,
 * other back-office users ("staff") themselves and their own applications, customers (storefront
 * users) only their own account.
 */
export type Role = 'admin' | 'staff' | 'customer';
export const ROLES: readonly Role[] = ['admin', 'staff', 'customer'];

export interface ApiScope {
  /** Shown on the consent page when the user's role is not known, or has no wording of its own. */
  description: string;
  /**
   * What the scope means for a user of each role, shown on the consent page and the account
   * page: the same scope lets an admin manage everyone, a customer only their own account, and
   * the user allowing it must read which. Roles that may not hold the scope have none.
   */
  byRole: Readonly<Partial<Record<Role, string>>>;
  /** The roles whose users may be granted it (and whose clients may be registered with it). */
  roles: readonly Role[];
  /** What it allows, per side, for the README's catalogue. */
  allows: string;
}

/** The legacy catalogue-wide scope: every API scope below, as far as the user's role allows. */
export const API_SCOPE = 'api';

export const API_SCOPES: Readonly<Record<string, ApiScope>> = {
  [API_SCOPE]: {
    description: 'Use the API on your behalf',
    byRole: {
      admin: 'Manage all users and applications on your behalf',
      staff: 'See your account and manage your applications on your behalf',
      customer: 'See and change your account details on your behalf',
    },
    roles: ROLES,
    allows: 'everything the four scopes below allow, within the user\'s role (the default scope, kept for existing clients)',
  },
  'users:read': {
    description: 'See your account details',
    byRole: { admin: 'See all users', staff: 'See your account details', customer: 'See your account details' },
    roles: ROLES,
    allows: 'read users: admins every back-office and storefront user, other back-office users themselves, customers themselves (`/api/customerusers/mine`)',
  },
  'users:write': {
    description: 'Change your account details',
    byRole: { admin: 'Create, change and delete users', customer: 'Change your account details' },
    roles: ['admin', 'customer'],
    allows: 'create, change, disable and delete users (admins); customers change their own profile (`PATCH /api/customerusers/mine`)',
  },
  'applications:read': {
    description: 'See the applications you manage',
    byRole: { admin: 'See all applications', staff: 'See your applications' },
    roles: ['admin', 'staff'],
    allows: 'read OAuth applications: admins all of them, other back-office users their own',
  },
  'applications:write': {
    description: 'Register and change applications you manage',
    byRole: { admin: 'Register, change and delete any application', staff: 'Register, change and delete your applications' },
    roles: ['admin', 'staff'],
    allows: 'register, change, deactivate and delete OAuth applications and regenerate their secrets, within the same limits',
  },
};

/** The role of a user: the storefront has only customers; the back office admins and staff. */
export function roleOf(side: 'backoffice' | 'storefront', isAdmin: boolean): Role {
  if (side === 'storefront') return 'customer';
  return isAdmin ? 'admin' : 'staff';
}

/** The roles of each side's users. */
export const SIDE_ROLES: Readonly<Record<'backoffice' | 'storefront', readonly Role[]>> = { backoffice: ['admin', 'staff'], storefront: ['customer'] };

/**
 * Whether a token may use its user's admin right: an application never acts beyond its owner's
 * role, so an admin's token from an application a non-admin owns has none (the owner could not
 * have done it, so neither may their application). `clientOwnerIsAdmin` is null for an unowned client.
 */
export function tokenMayActAsAdmin(userIsAdmin: boolean, clientOwnerIsAdmin: boolean | null): boolean {
  return userIsAdmin && clientOwnerIsAdmin !== false;
}

/** Whether a user of `role` may hold `scope`; scopes outside the catalogue are the deployment's own, and not ours to limit. */
export function roleMayHold(role: Role, scope: string): boolean {
  const entry = Object.hasOwn(API_SCOPES, scope) ? API_SCOPES[scope] : undefined;
  return entry === undefined || entry.roles.includes(role);
}

/** Whether a token's scopes allow a route that needs `needed`: the scope itself, or `api`. */
export function scopeAllows(tokenScopes: readonly string[], needed: string): boolean {
  return tokenScopes.includes(needed) || tokenScopes.includes(API_SCOPE);
}
