// Server state of the console: every TanStack Query hook over the API client. Pages use these
// hooks; no component fetches by itself.
import {
  keepPreviousData,
  MutationCache,
  QueryCache,
  QueryClient,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { api, ApiError, isApiError } from './client';
import type {
  APIToken,
  Asset,
  AssetDetail,
  AuditEvent,
  ComplianceFramework,
  ComplianceSummary,
  CreatedAPIToken,
  Credential,
  Finding,
  KeyInfo,
  TLSStatus,
  TOTPEnrolment,
  ModuleInfo,
  OverviewRow,
  Page,
  ScanJob,
  ScanSchedule,
  Session,
  Tenant,
  TrendPoint,
  User,
} from './types';
import { toastError } from '../components/toast';

const t = (tenant: string) => `/v1/tenants/${encodeURIComponent(tenant)}`;

/** Maps 404 to null: routes this appliance does not have yet show an empty state. */
async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (isApiError(e) && e.status === 404) return null;
    throw e;
  }
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (err, query) => {
        if (query.meta?.silent) return;
        if (isApiError(err) && err.status === 401) return; // the session handler takes over
        toastError(err);
      },
    }),
    mutationCache: new MutationCache({
      onError: (err, _v, _c, m) => {
        // Forms show their errors inline, with the trace id; other mutations toast.
        if (m.meta?.inline) return;
        if (isApiError(err) && err.status === 401) return;
        toastError(err);
      },
    }),
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        retry: (n, err) =>
          n < 2 && (!(err instanceof ApiError) || err.status >= 500 || err.status === 0),
      },
    },
  });
}

// ---- tenants and users ----

export function useTenants() {
  return useQuery({
    queryKey: ['tenants'],
    queryFn: () => api.request<Page<Tenant>>('/v1/tenants', { query: { page_size: 100 } }),
  });
}

export function useTenantUsers(tenant: string, enabled = true) {
  return useQuery({
    queryKey: ['tenant', tenant, 'users'],
    queryFn: () => api.request<Page<User>>(`${t(tenant)}/users`, { query: { page_size: 100 } }),
    enabled,
  });
}

export function useAddTenantUser(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: { email: string; role: string; password?: string }) =>
      api.request<User>(`${t(tenant)}/users`, { method: 'POST', body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'users'] }),
  });
}

export function useSetTenantRole(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ user, role }: { user: string; role: string }) =>
      api.request<User>(`${t(tenant)}/users/${encodeURIComponent(user)}`, {
        method: 'PUT',
        body: { role },
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'users'] }),
  });
}

export function useRemoveTenantUser(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (user: string) =>
      api.request<void>(`${t(tenant)}/users/${encodeURIComponent(user)}`, { method: 'DELETE' }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'users'] }),
  });
}

// ---- API tokens ----

export function useApiTokens(tenant: string, enabled = true) {
  return useQuery({
    queryKey: ['tenant', tenant, 'tokens'],
    queryFn: () => api.request<{ items: APIToken[] }>(`${t(tenant)}/tokens`),
    enabled,
  });
}

export interface NewApiTokenBody {
  name: string;
  role: string;
  expires_in?: string;
}

export function useCreateApiToken(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: NewApiTokenBody) =>
      api.request<CreatedAPIToken>(`${t(tenant)}/tokens`, { method: 'POST', body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'tokens'] }),
  });
}

export function useRevokeApiToken(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api.request<void>(`${t(tenant)}/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'tokens'] }),
  });
}

export function usePlatformUsers(enabled: boolean) {
  return useQuery({
    queryKey: ['users'],
    queryFn: () => api.request<Page<User>>('/v1/users', { query: { page_size: 100 } }),
    enabled,
  });
}

// ---- overview (MSP) ----

export function useOverview() {
  return useQuery({
    queryKey: ['overview'],
    queryFn: () => orNull(api.request<{ items: OverviewRow[] }>('/v1/overview')),
  });
}

// ---- assets ----

export interface AssetFilters {
  q?: string;
  type?: string;
  os?: string;
  vendor?: string;
  port?: string;
  subnet?: string;
  sort?: string;
}

export const ASSET_PAGE_SIZE = 100;

export function assetPageQuery(tenant: string, filters: AssetFilters, page: number) {
  return {
    queryKey: ['tenant', tenant, 'assets', filters, page] as const,
    queryFn: () =>
      api.request<Page<Asset>>(`${t(tenant)}/assets`, {
        query: { ...filters, page, page_size: ASSET_PAGE_SIZE },
      }),
    staleTime: 30_000,
  };
}

export function useAssetPage(tenant: string, filters: AssetFilters, page: number) {
  return useQuery({ ...assetPageQuery(tenant, filters, page), placeholderData: keepPreviousData });
}

export function useAsset(tenant: string, id: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'asset', id],
    queryFn: () => api.request<AssetDetail>(`${t(tenant)}/assets/${encodeURIComponent(id)}`),
  });
}

/** Up to `max` assets, newest first, for the dashboard's breakdowns. */
export function useAssetSample(tenant: string, max = 500) {
  return useQuery({
    queryKey: ['tenant', tenant, 'asset-sample', max],
    queryFn: async () => {
      const items: Asset[] = [];
      let total = 0;
      for (let page = 1; items.length < max; page++) {
        const p = await api.request<Page<Asset>>(`${t(tenant)}/assets`, {
          query: { page, page_size: 100, sort: '-last_seen' },
        });
        total = p.total;
        items.push(...p.items);
        if (p.items.length < 100 || items.length >= total) break;
      }
      return { items, total };
    },
  });
}

// ---- scans ----

const ACTIVE_STATES = new Set(['queued', 'running', 'interrupted']);

/** One page of scans; polls every 3 s while one of them is still active. */
export function useScans(tenant: string, page = 1) {
  return useQuery({
    queryKey: ['tenant', tenant, 'scans', page],
    queryFn: () =>
      api.request<Page<ScanJob>>(`${t(tenant)}/scans`, { query: { page, page_size: 25 } }),
    refetchInterval: (q) =>
      q.state.data?.items.some((j) => ACTIVE_STATES.has(j.state)) ? 3000 : false,
  });
}

export function useScan(tenant: string, id: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'scan', id],
    queryFn: () => api.request<ScanJob>(`${t(tenant)}/scans/${encodeURIComponent(id)}`),
  });
}

export interface ScanRequestBody {
  targets: string[];
  exclude?: string[];
  ports?: string;
  credentials?: string[];
}

export function useSubmitScan(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: ScanRequestBody) =>
      api.request<ScanJob>(`${t(tenant)}/scans`, { method: 'POST', body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'scans'] }),
  });
}

export function useCancelScan(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api.request<ScanJob>(`${t(tenant)}/scans/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: (job) => {
      qc.setQueryData(['tenant', tenant, 'scan', job.id], job);
      void qc.invalidateQueries({ queryKey: ['tenant', tenant, 'scans'] });
    },
  });
}

export function useSchedules(tenant: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'schedules'],
    queryFn: () => api.request<Page<ScanSchedule>>(`${t(tenant)}/scan-schedules`),
  });
}

export function useCreateSchedule(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: ScanRequestBody & { cron: string }) =>
      api.request<ScanSchedule>(`${t(tenant)}/scan-schedules`, { method: 'POST', body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'schedules'] }),
  });
}

export function useDeleteSchedule(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api.request<void>(`${t(tenant)}/scan-schedules/${encodeURIComponent(id)}`, {
        method: 'DELETE',
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'schedules'] }),
  });
}

// ---- credentials ----

export function useCredentials(tenant: string, enabled = true) {
  return useQuery({
    queryKey: ['tenant', tenant, 'credentials'],
    queryFn: () => api.request<Page<Credential>>(`${t(tenant)}/credentials`),
    enabled,
  });
}

export function useCreateCredential(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: Record<string, string>) =>
      api.request<Credential>(`${t(tenant)}/credentials`, { method: 'POST', body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'credentials'] }),
  });
}

export function useDeleteCredential(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (name: string) =>
      api.request<void>(`${t(tenant)}/credentials/${encodeURIComponent(name)}`, {
        method: 'DELETE',
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'credentials'] }),
  });
}

export function useTestCredential(tenant: string) {
  return useMutation({
    mutationFn: ({ name, target }: { name: string; target: string }) =>
      api.request<{ ok: boolean; target: string; sys_descr?: string; error?: string }>(
        `${t(tenant)}/credentials/${encodeURIComponent(name)}/test`,
        { method: 'POST', body: target ? { target } : {} },
      ),
  });
}

// ---- findings ----

export interface FindingFilters {
  severity?: string;
  status?: string;
  check?: string;
  asset_id?: string;
  q?: string;
}

export function useFindings(tenant: string, filters: FindingFilters, page = 1, pageSize = 50) {
  return useQuery({
    queryKey: ['tenant', tenant, 'findings', filters, page, pageSize],
    queryFn: () =>
      orNull(
        api.request<Page<Finding>>(`${t(tenant)}/findings`, {
          query: { ...filters, page, page_size: pageSize },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useWaiveFinding(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    meta: { inline: true },
    mutationFn: ({ id, reason, expires_at }: { id: string; reason: string; expires_at: string }) =>
      api.request<Finding>(`${t(tenant)}/findings/${encodeURIComponent(id)}/waiver`, {
        method: 'POST',
        body: { reason, expires_at },
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'findings'] }),
  });
}

// ---- compliance ----

export function useCompliance(tenant: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'compliance'],
    queryFn: () => orNull(api.request<ComplianceSummary>(`${t(tenant)}/compliance`)),
  });
}

export function useComplianceFramework(tenant: string, framework: string | undefined) {
  return useQuery({
    queryKey: ['tenant', tenant, 'compliance', framework],
    queryFn: () =>
      orNull(api.request<ComplianceFramework>(`${t(tenant)}/compliance`, { query: { framework } })),
    enabled: !!framework,
  });
}

export function useComplianceTrend(tenant: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'compliance-trend'],
    queryFn: () => orNull(api.request<{ items: TrendPoint[] }>(`${t(tenant)}/compliance/trend`)),
  });
}

export function complianceReportPath(tenant: string, format: 'csv' | 'pdf'): string {
  return `${t(tenant)}/reports/compliance.${format}`;
}

// ---- modules ----

export interface ModuleFilters {
  category?: string;
  state?: string;
  framework?: string;
  platform?: string;
  q?: string;
}

export function useModules(filters: ModuleFilters) {
  return useQuery({
    queryKey: ['modules', filters],
    queryFn: () =>
      orNull(
        api.request<Page<ModuleInfo>>('/v1/modules', { query: { ...filters, page_size: 100 } }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useTenantModules(tenant: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'modules'],
    queryFn: () =>
      orNull(api.request<{ items: { slug: string; enabled: boolean }[] }>(`${t(tenant)}/modules`)),
  });
}

export function useSetTenantModules(tenant: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (items: { slug: string; enabled: boolean }[]) =>
      api.request<{ items: { slug: string; enabled: boolean }[] }>(`${t(tenant)}/modules`, {
        method: 'PUT',
        body: { items },
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tenant', tenant, 'modules'] }),
  });
}

// ---- audit ----

export interface AuditFilters {
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
}

export function auditPath(tenant: string | undefined): string {
  return tenant ? `${t(tenant)}/audit` : '/v1/audit';
}

export function useAudit(tenant: string | undefined, filters: AuditFilters, page: number) {
  return useQuery({
    queryKey: ['audit', tenant ?? '', filters, page],
    queryFn: () =>
      api.request<Page<AuditEvent>>(auditPath(tenant), {
        query: { ...filters, page, page_size: 50 },
      }),
    placeholderData: keepPreviousData,
  });
}

// ---- settings, sessions ----

export function useTLSStatus(enabled: boolean) {
  return useQuery({
    queryKey: ['tls'],
    queryFn: () => api.request<TLSStatus>('/v1/tls'),
    enabled,
    retry: false,
  });
}

export function useKeys(enabled: boolean) {
  return useQuery({
    queryKey: ['keys'],
    queryFn: () => api.request<{ policy_days: number; keys: KeyInfo[] }>('/v1/keys'),
    enabled,
  });
}

export function useSessions() {
  return useQuery({
    queryKey: ['sessions'],
    queryFn: () => api.request<{ items: Session[] }>('/v1/auth/sessions'),
  });
}

export function useRevokeSession() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api.request<void>(`/v1/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['sessions'] }),
  });
}

// ---- my password and second factor (forms show their errors inline) ----

export function useChangePassword() {
  return useMutation({
    meta: { inline: true },
    mutationFn: (body: { old_password: string; new_password: string }) =>
      api.request<void>('/v1/auth/password', { method: 'POST', body }),
  });
}

export function useStartTotp() {
  return useMutation({
    meta: { inline: true },
    mutationFn: () => api.request<TOTPEnrolment>('/v1/auth/mfa/totp', { method: 'POST' }),
  });
}

export function useConfirmTotp() {
  return useMutation({
    meta: { inline: true },
    mutationFn: (code: string) =>
      api.request<{ recovery_codes: string[] }>('/v1/auth/mfa/totp/confirm', {
        method: 'POST',
        body: { code },
      }),
  });
}

export function useDisableTotp() {
  return useMutation({
    meta: { inline: true },
    mutationFn: (password: string) =>
      api.request<void>('/v1/auth/mfa/totp', { method: 'DELETE', body: { password } }),
  });
}

/** Open findings per severity (one small request each); null when findings are not served. */
export function useFindingCounts(tenant: string) {
  return useQuery({
    queryKey: ['tenant', tenant, 'finding-counts'],
    queryFn: async () => {
      const out: Record<string, number> = {};
      for (const s of ['critical', 'high', 'medium', 'low', 'info']) {
        const p = await orNull(
          api.request<Page<Finding>>(`${t(tenant)}/findings`, {
            query: { severity: s, status: 'open', page: 1, page_size: 1 },
          }),
        );
        if (p === null) return null;
        out[s] = p.total;
      }
      return out;
    },
  });
}
