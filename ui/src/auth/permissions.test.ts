import { describe, expect, it } from 'vitest';
import { can, roleIn } from './permissions';
import type { Action } from './permissions';
import type { Me } from '../api/types';
import { safeNext } from './AuthProvider';

function me(platform: '' | 'admin', perms: Record<string, string[]>): Me {
  return {
    user: {
      id: 'u',
      email: 'u@example.com',
      platform_role: platform,
      disabled: false,
      mfa_enabled: false,
      memberships: Object.keys(perms).map((t) => ({ tenant_id: t, tenant: t, role: 'standard' })),
      created_at: '',
      updated_at: '',
    },
    permissions: perms,
    mfa: false,
  };
}

// The permissions the server reports per role (appliance/authz).
const ADMIN = [
  'tenant.read',
  'tenant.update',
  'tenant.users.read',
  'tenant.users.manage',
  'tenant.tokens.read',
  'tenant.tokens.manage',
  'tenant.audit.read',
  'tenant.write',
  'tenant.export',
  'tenant.credentials.read',
  'tenant.credentials.manage',
];
const STANDARD = ['tenant.read', 'tenant.write'];
const AUDITOR = [
  'tenant.read',
  'tenant.users.read',
  'tenant.tokens.read',
  'tenant.audit.read',
  'tenant.export',
  'tenant.credentials.read',
];

describe('can', () => {
  const cases: [string, Me | null, Action, string | undefined, boolean][] = [
    ['anonymous', null, 'tenant.read', 'acme', false],
    ['self for anyone signed in', me('', {}), 'self', undefined, true],
    ['platform admin everywhere', me('admin', {}), 'tenant.credentials.manage', 'other', true],
    ['platform admin platform actions', me('admin', {}), 'platform.keys', undefined, true],
    ['tenant admin no platform action', me('', { acme: ADMIN }), 'platform.keys', undefined, false],
    ['tenant admin manages users', me('', { acme: ADMIN }), 'tenant.users.manage', 'acme', true],
    ['standard writes', me('', { acme: STANDARD }), 'tenant.write', 'acme', true],
    ['standard no users page', me('', { acme: STANDARD }), 'tenant.users.read', 'acme', false],
    ['standard no audit', me('', { acme: STANDARD }), 'tenant.audit.read', 'acme', false],
    ['standard no vault', me('', { acme: STANDARD }), 'tenant.credentials.read', 'acme', false],
    ['auditor reads audit', me('', { acme: AUDITOR }), 'tenant.audit.read', 'acme', true],
    ['auditor never writes', me('', { acme: AUDITOR }), 'tenant.write', 'acme', false],
    [
      'auditor no vault changes',
      me('', { acme: AUDITOR }),
      'tenant.credentials.manage',
      'acme',
      false,
    ],
    ['no tenant given', me('', { acme: ADMIN }), 'tenant.read', undefined, false],
    ['other tenant', me('', { acme: ADMIN }), 'tenant.read', 'globex', false],
  ];
  it.each(cases)('%s', (_name, m, action, tenant, want) => {
    expect(can(m, action, tenant)).toBe(want);
  });

  it('names the role', () => {
    expect(roleIn(me('admin', {}), 'x')).toBe('platform-admin');
    expect(roleIn(me('', { acme: STANDARD }), 'acme')).toBe('standard');
  });
});

describe('safeNext', () => {
  it.each([
    [null, '/'],
    ['/t/acme/assets?q=x', '/t/acme/assets?q=x'],
    ['//evil.example.com', '/'],
    ['/\\evil.example.com', '/'],
    ['https://evil.example.com', '/'],
    ['/login?next=/x', '/'],
  ])('%s → %s', (input, want) => {
    expect(safeNext(input)).toBe(want);
  });
});
