// The form that queues a scan (or saves it as a schedule): targets, exclusions, a port profile,
// credentials from the vault and an optional cron schedule. Server errors show inline with
// their trace id.
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { useCreateSchedule, useCredentials, useSubmitScan } from '../api/queries';
import type { ScanRequestBody } from '../api/queries';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { FieldError, FormError } from '../components/ui';
import { pushToast } from '../components/toast';

export function splitList(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

export function scanSchema(t: TFunction) {
  return z
    .object({
      targets: z.string().refine((s) => splitList(s).length > 0, t('errorsRequired')),
      exclude: z.string(),
      profile: z.enum(['top100', 'top1000', 'custom']),
      ports: z.string(),
      credentials: z.array(z.string()),
      credentialText: z.string(),
      scheduled: z.boolean(),
      cron: z.string(),
    })
    .superRefine((v, ctx) => {
      if (v.profile === 'custom' && !/^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/.test(v.ports)) {
        ctx.addIssue({ code: 'custom', path: ['ports'], message: t('errorsPorts') });
      }
      if (v.scheduled && v.cron.trim() === '') {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: t('errorsCron') });
      }
    });
}

type Values = z.infer<ReturnType<typeof scanSchema>>;

export function ScanForm({ tenant, onDone }: { tenant: string; onDone: () => void }) {
  const { t } = useTranslation('scans');
  const me = useMe();
  const navigate = useNavigate();
  const canSeeVault = can(me, 'tenant.credentials.read', tenant);
  const vault = useCredentials(tenant, canSeeVault);
  const submitScan = useSubmitScan(tenant);
  const createSchedule = useCreateSchedule(tenant);
  const form = useForm<Values>({
    resolver: zodResolver(scanSchema(t)),
    defaultValues: {
      targets: '',
      exclude: '',
      profile: 'top100',
      ports: '',
      credentials: [],
      credentialText: '',
      scheduled: false,
      cron: '',
    },
  });
  const { errors, isSubmitting } = form.formState;
  const profile = form.watch('profile');
  const scheduled = form.watch('scheduled');
  const error = submitScan.error ?? createSchedule.error;

  const submit = form.handleSubmit(async (v) => {
    submitScan.reset();
    createSchedule.reset();
    const body: ScanRequestBody = {
      targets: splitList(v.targets),
      ports: v.profile === 'custom' ? v.ports.replace(/\s+/g, '') : v.profile,
    };
    const ex = splitList(v.exclude);
    if (ex.length) body.exclude = ex;
    const creds = canSeeVault ? v.credentials : splitList(v.credentialText);
    if (creds.length) body.credentials = creds;
    try {
      if (v.scheduled) {
        await createSchedule.mutateAsync({ ...body, cron: v.cron.trim() });
        pushToast({ kind: 'success', message: 'Schedule saved.' });
        onDone();
      } else {
        const job = await submitScan.mutateAsync(body);
        onDone();
        navigate(`/t/${encodeURIComponent(tenant)}/scans/${encodeURIComponent(job.id)}`);
      }
    } catch {
      // shown inline below
    }
  });

  return (
    <form onSubmit={submit} noValidate className="grid gap-4 md:grid-cols-2" aria-label={t('new')}>
      <div className="md:col-span-2">
        <FormError error={error} />
      </div>
      <div>
        <label htmlFor="scan-targets" className="label">
          {t('targets')}
        </label>
        <textarea
          id="scan-targets"
          rows={3}
          className="input"
          aria-invalid={!!errors.targets}
          aria-describedby="scan-targets-help scan-targets-error"
          {...form.register('targets')}
        />
        <p id="scan-targets-help" className="mt-1 text-xs text-muted">
          {t('targetsHelp')}
        </p>
        <FieldError id="scan-targets-error" message={errors.targets?.message} />
      </div>
      <div>
        <label htmlFor="scan-exclude" className="label">
          {t('exclude')}
        </label>
        <textarea id="scan-exclude" rows={3} className="input" {...form.register('exclude')} />
      </div>
      <div>
        <label htmlFor="scan-profile" className="label">
          {t('ports')}
        </label>
        <select id="scan-profile" className="input" {...form.register('profile')}>
          <option value="top100">{t('profiles.top100')}</option>
          <option value="top1000">{t('profiles.top1000')}</option>
          <option value="custom">{t('profiles.custom')}</option>
        </select>
        {profile === 'custom' && (
          <div className="mt-2">
            <label htmlFor="scan-ports" className="label">
              {t('customPorts')}
            </label>
            <input
              id="scan-ports"
              className="input"
              aria-invalid={!!errors.ports}
              aria-describedby="scan-ports-help scan-ports-error"
              {...form.register('ports')}
            />
            <p id="scan-ports-help" className="mt-1 text-xs text-muted">
              {t('customPortsHelp')}
            </p>
            <FieldError id="scan-ports-error" message={errors.ports?.message} />
          </div>
        )}
      </div>
      <div>
        {canSeeVault ? (
          <fieldset>
            <legend className="label">{t('credentials')}</legend>
            {(vault.data?.items.length ?? 0) === 0 ? (
              <p className="text-sm text-muted">{t('noCredentials')}</p>
            ) : (
              <div className="flex flex-col gap-1">
                {vault.data?.items.map((c) => (
                  <label key={c.id} className="flex items-center gap-2 text-sm">
                    <input type="checkbox" value={c.name} {...form.register('credentials')} />
                    {c.name} <span className="text-muted">({c.kind})</span>
                  </label>
                ))}
              </div>
            )}
          </fieldset>
        ) : (
          <>
            <label htmlFor="scan-creds" className="label">
              {t('credentials')}
            </label>
            <input
              id="scan-creds"
              className="input"
              aria-describedby="scan-creds-help"
              {...form.register('credentialText')}
            />
            <p id="scan-creds-help" className="mt-1 text-xs text-muted">
              {t('credentialsHelp')}
            </p>
          </>
        )}
      </div>
      <div className="md:col-span-2">
        <label className="flex items-center gap-2 text-sm font-semibold">
          <input type="checkbox" {...form.register('scheduled')} />
          {t('schedule')}
        </label>
        {scheduled && (
          <div className="mt-2 max-w-sm">
            <label htmlFor="scan-cron" className="label">
              {t('cron')}
            </label>
            <input
              id="scan-cron"
              className="input"
              aria-invalid={!!errors.cron}
              aria-describedby="scan-cron-help scan-cron-error"
              {...form.register('cron')}
            />
            <p id="scan-cron-help" className="mt-1 text-xs text-muted">
              {t('cronHelp')}
            </p>
            <FieldError id="scan-cron-error" message={errors.cron?.message} />
          </div>
        )}
      </div>
      <div className="md:col-span-2">
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          {isSubmitting ? t('starting') : scheduled ? t('saveSchedule') : t('start')}
        </button>
      </div>
    </form>
  );
}
