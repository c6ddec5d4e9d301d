// The frame of every signed-in page: a top bar (global search, tenant switcher, theme, user
// menu) and a left sidebar whose entries follow the user's role.
import { useEffect, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, NavLink, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { useAuth, useMe } from '../auth/AuthProvider';
import { can, isPlatformAdmin } from '../auth/permissions';
import type { Action } from '../auth/permissions';
import { useTenants } from '../api/queries';
import { useTheme } from '../theme/theme';

const LAST_TENANT_KEY = 'tenantra.tenant';

export function rememberTenant(slug: string) {
  try {
    window.localStorage.setItem(LAST_TENANT_KEY, slug);
  } catch {
    // not remembered
  }
}

export function lastTenant(): string | null {
  try {
    return window.localStorage.getItem(LAST_TENANT_KEY);
  } catch {
    return null;
  }
}

interface NavItem {
  to: string;
  label: string;
  action: Action;
  end?: boolean;
}

function SideLink({ item }: { item: NavItem }) {
  return (
    <li>
      <NavLink
        to={item.to}
        end={item.end}
        className={({ isActive }) =>
          `block rounded-md border-l-4 px-3 py-2 text-sm font-medium ${
            isActive
              ? 'border-brand bg-primary-soft text-primary'
              : 'border-transparent text-fg hover:bg-raised'
          }`
        }
      >
        {item.label}
      </NavLink>
    </li>
  );
}

function Sidebar({ tenant }: { tenant: string | undefined }) {
  const { t } = useTranslation();
  const me = useMe();
  const base = tenant ? `/t/${encodeURIComponent(tenant)}` : '';
  const tenantItems: NavItem[] = tenant
    ? [
        { to: base, label: t('nav.dashboard'), action: 'tenant.read', end: true },
        { to: `${base}/assets`, label: t('nav.assets'), action: 'tenant.read' },
        { to: `${base}/scans`, label: t('nav.scans'), action: 'tenant.read' },
        { to: `${base}/findings`, label: t('nav.findings'), action: 'tenant.read' },
        { to: `${base}/compliance`, label: t('nav.compliance'), action: 'tenant.read' },
        { to: `${base}/modules`, label: t('nav.modules'), action: 'tenant.read' },
        { to: `${base}/users`, label: t('nav.users'), action: 'tenant.users.read' },
        {
          to: `${base}/credentials`,
          label: t('nav.credentials'),
          action: 'tenant.credentials.read',
        },
        { to: `${base}/audit`, label: t('nav.audit'), action: 'tenant.audit.read' },
      ]
    : [];
  const adminItems: NavItem[] = [
    { to: '/overview', label: t('nav.overview'), action: 'platform.tenants.create' },
    { to: '/users', label: t('nav.platformUsers'), action: 'platform.users.read' },
    { to: '/audit', label: t('nav.platformAudit'), action: 'platform.audit.read' },
    { to: '/settings', label: t('nav.settings'), action: 'platform.keys' },
  ];
  const visibleTenant = tenantItems.filter((i) => can(me, i.action, tenant));
  const visibleAdmin = adminItems.filter((i) => can(me, i.action));
  return (
    <nav aria-label={t('nav.main')} className="flex flex-col gap-4 p-3">
      {visibleTenant.length > 0 && (
        <div>
          <h2 className="px-3 pb-1 text-xs font-semibold uppercase tracking-wide text-muted">
            {t('nav.tenantSection')}
          </h2>
          <ul className="flex flex-col gap-0.5">
            {visibleTenant.map((i) => (
              <SideLink key={i.to} item={i} />
            ))}
          </ul>
        </div>
      )}
      {visibleAdmin.length > 0 && (
        <div>
          <h2 className="px-3 pb-1 text-xs font-semibold uppercase tracking-wide text-muted">
            {t('nav.adminSection')}
          </h2>
          <ul className="flex flex-col gap-0.5">
            {visibleAdmin.map((i) => (
              <SideLink key={i.to} item={i} />
            ))}
          </ul>
        </div>
      )}
      <ul className="flex flex-col gap-0.5">
        <SideLink item={{ to: '/account', label: t('nav.account'), action: 'self' }} />
      </ul>
    </nav>
  );
}

function TenantSwitcher({ tenant }: { tenant: string | undefined }) {
  const { t } = useTranslation();
  const tenants = useTenants();
  const navigate = useNavigate();
  const loc = useLocation();
  const onChange = (slug: string) => {
    if (!slug) return;
    rememberTenant(slug);
    // Keep the section (assets, scans, …) when switching; drop ids that belong to the old one.
    const m = /^\/t\/[^/]+\/([a-z-]+)/.exec(loc.pathname);
    navigate(`/t/${encodeURIComponent(slug)}${m ? `/${m[1]}` : ''}`);
  };
  return (
    <div className="flex items-center gap-2">
      <label htmlFor="tenant-switcher" className="text-sm font-semibold text-muted max-md:sr-only">
        {t('top.tenant')}
      </label>
      <select
        id="tenant-switcher"
        className="input w-44 py-1.5"
        value={tenant ?? ''}
        onChange={(e) => onChange(e.target.value)}
      >
        {!tenant && <option value="">{t('top.chooseTenant')}</option>}
        {tenants.data?.items.map((x) => (
          <option key={x.id} value={x.slug}>
            {x.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function GlobalSearch({ tenant }: { tenant: string | undefined }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [q, setQ] = useState('');
  const target = tenant ?? lastTenant();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    navigate(`/t/${encodeURIComponent(target)}/assets?q=${encodeURIComponent(q.trim())}`);
  };
  return (
    <form role="search" onSubmit={submit} className="min-w-0 flex-1">
      <label htmlFor="global-search" className="sr-only">
        {t('top.search')}
      </label>
      <input
        id="global-search"
        type="search"
        className="input max-w-md rounded-full bg-page"
        placeholder={t('top.searchPlaceholder')}
        value={q}
        onChange={(e) => setQ(e.target.value)}
        disabled={!target}
      />
    </form>
  );
}

function UserMenu() {
  const { t } = useTranslation();
  const me = useMe();
  const { logout } = useAuth();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (
        e instanceof KeyboardEvent ? e.key === 'Escape' : !ref.current?.contains(e.target as Node)
      ) {
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [open]);
  const initial = me.user.email.slice(0, 1).toUpperCase();
  return (
    <div className="relative" ref={ref}>
      <button
        type="button"
        className="flex h-9 w-9 items-center justify-center rounded-full bg-brand font-bold text-white"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={t('top.userMenu', { email: me.user.email })}
        onClick={() => setOpen((o) => !o)}
      >
        {initial}
      </button>
      {open && (
        <div role="menu" className="card absolute right-0 z-40 mt-2 w-64 p-2">
          <p className="truncate px-2 py-1 text-sm font-semibold">{me.user.email}</p>
          <p className="px-2 pb-2 text-xs text-muted">
            {isPlatformAdmin(me)
              ? 'Platform admin'
              : me.user.memberships.map((m) => `${m.tenant}: ${m.role}`).join(', ')}
          </p>
          <button
            type="button"
            role="menuitem"
            className="block w-full rounded-md px-2 py-2 text-left text-sm hover:bg-raised"
            onClick={() => {
              setOpen(false);
              navigate('/account');
            }}
          >
            {t('nav.account')}
          </button>
          <button
            type="button"
            role="menuitem"
            className="block w-full rounded-md px-2 py-2 text-left text-sm hover:bg-raised"
            onClick={() => void logout()}
          >
            {t('top.signOut')}
          </button>
        </div>
      )}
    </div>
  );
}

function ThemeToggle() {
  const { t } = useTranslation();
  const [theme, toggle] = useTheme();
  return (
    <button
      type="button"
      className="btn btn-secondary h-9 w-9 p-0"
      onClick={toggle}
      aria-label={theme === 'dark' ? t('top.themeLight') : t('top.themeDark')}
      aria-pressed={theme === 'dark'}
      data-testid="theme-toggle"
    >
      <span aria-hidden="true">{theme === 'dark' ? '☀' : '☾'}</span>
    </button>
  );
}

export function Layout({ children }: { children?: ReactNode }) {
  const { t } = useTranslation();
  const { tenant } = useParams();
  const loc = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    if (tenant) rememberTenant(tenant);
  }, [tenant]);
  // The small-screen menu closes when a link in it is followed.
  const [menuPath, setMenuPath] = useState(loc.pathname);
  if (menuPath !== loc.pathname) {
    setMenuPath(loc.pathname);
    setMenuOpen(false);
  }
  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-card focus:p-2"
      >
        {t('top.skip')}
      </a>
      <header className="sticky top-0 z-30 flex h-14 items-center gap-4 border-b border-line bg-card px-4 shadow-card">
        <button
          type="button"
          className="btn btn-secondary h-9 px-2 md:hidden"
          aria-expanded={menuOpen}
          aria-controls="mobile-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          {t('top.menu')}
        </button>
        <Link
          to="/"
          className="flex items-center gap-2 text-xl font-bold text-brand"
          aria-label="Tenantra home"
        >
          <span
            aria-hidden="true"
            className="flex h-8 w-8 items-center justify-center rounded-full bg-brand text-white"
          >
            t
          </span>
          <span className="max-sm:hidden">{t('app')}</span>
        </Link>
        <GlobalSearch tenant={tenant} />
        <TenantSwitcher tenant={tenant} />
        <ThemeToggle />
        <UserMenu />
      </header>
      {menuOpen && (
        <aside
          id="mobile-nav"
          className="fixed top-14 bottom-0 left-0 z-40 w-64 overflow-y-auto border-r border-line bg-card shadow-card md:hidden"
          onKeyDown={(e) => e.key === 'Escape' && setMenuOpen(false)}
        >
          <Sidebar tenant={tenant} />
        </aside>
      )}
      <div className="flex">
        <aside className="sticky top-14 h-[calc(100vh-3.5rem)] w-60 shrink-0 overflow-y-auto border-r border-line bg-card max-md:hidden">
          <Sidebar tenant={tenant} />
        </aside>
        <main id="main" tabIndex={-1} className="min-w-0 flex-1 p-4 md:p-6">
          {children ?? <Outlet />}
        </main>
      </div>
    </div>
  );
}
