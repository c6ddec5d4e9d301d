// The module catalogue with filters, and per-tenant enablement for roles that may change the
// tenant.
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useParams, useSearchParams } from 'react-router';
import { useModules, useSetTenantModules, useTenantModules } from '../api/queries';
import type { ModuleFilters } from '../api/queries';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { Badge, Card, EmptyState, NotAvailable, PageHeader, Spinner } from '../components/ui';

const KEYS = ['category', 'platform', 'framework', 'state', 'q'] as const;

export default function ModulesPage() {
  const { t } = useTranslation('modules');
  const { tenant = '' } = useParams();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const filters: ModuleFilters = {};
  for (const k of KEYS) {
    const v = params.get(k);
    if (v) filters[k] = v;
  }
  // The server filters by category, state, framework and text; the OS filter is applied here.
  const { platform, ...serverFilters } = filters;
  const mods = useModules(serverFilters);
  const shown = (mods.data?.items ?? []).filter(
    (m) =>
      !platform ||
      (m.platforms ?? []).some((p) => p.toLowerCase().includes(platform.toLowerCase())),
  );
  const enabled = useTenantModules(tenant);
  const setMods = useSetTenantModules(tenant);
  const editable = can(me, 'tenant.modules.manage', tenant) && !!enabled.data;
  const on = new Map((enabled.data?.items ?? []).map((m) => [m.slug, m.enabled]));
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const fd = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of KEYS) {
      const v = String(fd.get(k) ?? '').trim();
      if (v) next.set(k, v);
    }
    setParams(next);
  };
  const toggle = (slug: string, value: boolean) => {
    const items = (enabled.data?.items ?? []).map((m) =>
      m.slug === slug ? { ...m, enabled: value } : m,
    );
    if (!items.some((m) => m.slug === slug)) items.push({ slug, enabled: value });
    setMods.mutate(items);
  };
  return (
    <div>
      <PageHeader title={t('title')} sub={t('sub')} />
      <Card className="mb-4">
        <form
          onSubmit={submit}
          className="grid gap-3 sm:grid-cols-2 lg:grid-cols-6"
          key={params.toString()}
        >
          {KEYS.map((k) => (
            <div key={k}>
              <label htmlFor={`m-${k}`} className="label">
                {t(k)}
              </label>
              {k === 'state' ? (
                <select id={`m-${k}`} name={k} className="input" defaultValue={filters.state ?? ''}>
                  <option value="">—</option>
                  {['draft', 'qa', 'released', 'deprecated', 'retired'].map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              ) : (
                <input id={`m-${k}`} name={k} className="input" defaultValue={filters[k] ?? ''} />
              )}
            </div>
          ))}
          <div className="flex items-end">
            <button type="submit" className="btn btn-primary">
              {t('apply')}
            </button>
          </div>
        </form>
      </Card>
      <Card>
        {mods.isPending ? (
          <Spinner />
        ) : !mods.data ? (
          <NotAvailable what="a module catalogue" />
        ) : shown.length === 0 ? (
          <EmptyState>{t('none')}</EmptyState>
        ) : (
          <table className="w-full">
            <caption className="sr-only">{t('title')}</caption>
            <thead>
              <tr className="border-b border-line">
                <th scope="col" className="th">
                  {t('name')}
                </th>
                <th scope="col" className="th">
                  {t('category')}
                </th>
                <th scope="col" className="th">
                  {t('platform')}
                </th>
                <th scope="col" className="th">
                  {t('framework')}
                </th>
                <th scope="col" className="th">
                  {t('severity')}
                </th>
                <th scope="col" className="th">
                  {t('enabled')}
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((m) => (
                <tr key={m.slug} className="border-b border-line last:border-0">
                  <td className="td">
                    <span className="font-medium">{m.name}</span>
                    <br />
                    <span className="font-mono text-xs text-muted">
                      {m.slug}@{m.version}
                    </span>{' '}
                    <Badge>{m.state}</Badge>
                  </td>
                  <td className="td">{m.category}</td>
                  <td className="td">{(m.platforms ?? []).join(', ')}</td>
                  <td className="td">{(m.frameworks ?? []).join(', ')}</td>
                  <td className="td">
                    {m.severity && <Badge tone={m.severity}>{m.severity}</Badge>}
                  </td>
                  <td className="td">
                    <input
                      type="checkbox"
                      aria-label={`${t('enabled')}: ${m.name}`}
                      checked={on.get(m.slug) ?? false}
                      disabled={!editable || setMods.isPending}
                      onChange={(e) => toggle(m.slug, e.target.checked)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
