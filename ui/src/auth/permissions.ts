// Role gating: what the signed-in user may do, from GET /v1/auth/me. The server checks every
// request again; this only decides what the console offers, so that an auditor sees no write
// action and a standard user no admin page.
import type { Me } from '../api/types';

export type Action =
  | 'self'
  | 'platform.tenants.create'
  | 'platform.tenants.delete'
  | 'platform.tenants.status'
  | 'platform.users.read'
  | 'platform.users.manage'
  | 'platform.audit.read'
  | 'platform.backup'
  | 'platform.keys'
  | 'platform.modules'
  | 'tenants.list'
  | 'tenant.read'
  | 'tenant.update'
  | 'tenant.users.read'
  | 'tenant.users.manage'
  | 'tenant.tokens.read'
  | 'tenant.tokens.manage'
  | 'tenant.audit.read'
  | 'tenant.export'
  | 'tenant.write'
  | 'tenant.credentials.read'
  | 'tenant.credentials.manage'
  | 'tenant.modules.manage'
  | 'tenant.findings.waive';

export function isPlatformAdmin(me: Me | null | undefined): boolean {
  return me?.user.platform_role === 'admin';
}

/** Whether `me` may perform `action` (in `tenant`, by slug, for tenant actions). */
export function can(me: Me | null | undefined, action: Action, tenant?: string): boolean {
  if (!me) return false;
  if (action === 'self' || action === 'tenants.list') return true;
  if (isPlatformAdmin(me)) return true;
  if (action.startsWith('platform.')) return false;
  if (!tenant) return false;
  return (me.permissions[tenant] ?? []).includes(action);
}

/** The tenant role of `me` in `tenant`, or 'platform-admin'. */
export function roleIn(me: Me | null | undefined, tenant: string): string | undefined {
  if (isPlatformAdmin(me)) return 'platform-admin';
  return me?.user.memberships.find((m) => m.tenant === tenant)?.role;
}
