// One asset: identity, services, interfaces, neighbours, findings, evidence and history.
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { useAsset, useFindings } from '../api/queries';
import {
  Badge,
  Card,
  EmptyState,
  FormError,
  NotAvailable,
  PageHeader,
  Spinner,
  formatDate,
} from '../components/ui';

export default function AssetDetailPage() {
  const { t } = useTranslation('assets');
  const { tenant = '', id = '' } = useParams();
  const asset = useAsset(tenant, id);
  const findings = useFindings(tenant, { asset_id: id }, 1, 50);
  const base = `/t/${encodeURIComponent(tenant)}`;
  if (asset.isPending) return <Spinner />;
  if (asset.error) return <FormError error={asset.error} />;
  const a = asset.data;
  const ident: [string, string][] = [
    [t('address'), a.addresses.join(', ')],
    ['MAC', a.macs.join(', ')],
    ['Host names', a.hostnames.join(', ')],
    [t('type'), a.type],
    [t('vendor'), a.vendor],
    ['Model', a.model],
    [t('os'), a.os],
    ['Firmware', a.firmware],
    ['Serial', a.serial],
    [t('firstSeen'), formatDate(a.first_seen)],
    [t('lastSeen'), formatDate(a.last_seen)],
  ];
  return (
    <div>
      <Link className="link text-sm" to={`${base}/assets`}>
        ← {t('detail.back')}
      </Link>
      <PageHeader
        title={a.name || a.addresses[0] || a.id}
        sub={[a.type, a.os].filter(Boolean).join(' · ')}
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title={t('detail.identity')}>
          <dl className="grid grid-cols-[9rem_1fr] gap-x-3 gap-y-1 text-sm">
            {ident.map(([k, v]) => (
              <div key={k} className="contents">
                <dt className="text-muted">{k}</dt>
                <dd className="break-words">{v || '—'}</dd>
              </div>
            ))}
          </dl>
        </Card>
        <Card title={t('detail.services')}>
          {a.services.length === 0 ? (
            <EmptyState>{t('detail.noServices')}</EmptyState>
          ) : (
            <table className="w-full text-sm">
              <caption className="sr-only">{t('detail.services')}</caption>
              <thead>
                <tr className="border-b border-line">
                  <th scope="col" className="th">
                    Port
                  </th>
                  <th scope="col" className="th">
                    Service
                  </th>
                  <th scope="col" className="th">
                    Product
                  </th>
                </tr>
              </thead>
              <tbody>
                {a.services.map((s) => (
                  <tr
                    key={`${s.protocol}/${s.port}`}
                    className="border-b border-line last:border-0"
                  >
                    <td className="td">
                      {s.port}/{s.protocol}
                    </td>
                    <td className="td">{s.service || '—'}</td>
                    <td className="td">
                      {[s.product, s.version].filter(Boolean).join(' ') || '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title={t('detail.interfaces')}>
          {a.interfaces.length === 0 ? (
            <EmptyState>{t('detail.noInterfaces')}</EmptyState>
          ) : (
            <ul className="text-sm">
              {a.interfaces.map((i) => (
                <li key={i.index}>
                  {i.name} {i.mac} {i.addresses.join(', ')}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('detail.neighbours')}>
          {a.neighbours.length === 0 ? (
            <EmptyState>{t('detail.noNeighbours')}</EmptyState>
          ) : (
            <ul className="text-sm">
              {a.neighbours.map((n) => (
                <li key={`${n.address}-${n.mac}`}>
                  {n.address} {n.mac} via {n.via}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('detail.findings')} className="lg:col-span-2">
          {findings.isPending ? (
            <Spinner />
          ) : !findings.data ? (
            <NotAvailable what="findings" />
          ) : (findings.data.items ?? []).length === 0 ? (
            <EmptyState>{t('detail.noFindings')}</EmptyState>
          ) : (
            <ul className="divide-y divide-line text-sm">
              {findings.data.items.map((f) => (
                <li key={f.id} className="flex items-center gap-2 py-2">
                  <Badge tone={f.severity}>{f.severity}</Badge>
                  <Link className="link" to={`${base}/findings?id=${encodeURIComponent(f.id)}`}>
                    {f.title}
                  </Link>
                  <span className="text-muted">{f.status}</span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('detail.evidence')}>
          {a.evidence.length === 0 ? (
            <EmptyState>{t('detail.noEvidence')}</EmptyState>
          ) : (
            <ul className="divide-y divide-line text-sm">
              {a.evidence.map((e, i) => (
                <li key={i} className="py-2">
                  <p>
                    <span className="font-semibold">{e.source}</span> ·{' '}
                    {Math.round(e.confidence * 100)}% · {formatDate(e.at)}
                  </p>
                  <p className="text-muted">{e.reason}</p>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('detail.history')}>
          {a.history.length === 0 ? (
            <EmptyState>{t('detail.noHistory')}</EmptyState>
          ) : (
            <ul className="divide-y divide-line text-sm">
              {a.history.map((h, i) => (
                <li key={i} className="py-2">
                  {formatDate(h.at)}: {h.field} {h.old || '—'} → {h.new || '—'}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
