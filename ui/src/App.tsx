// Routes of the console. Every page is its own chunk (React.lazy), so the first load carries
// only the shell, the API client and the login page.
import { lazy, Suspense, useState } from 'react';
import type { ReactNode } from 'react';
import { QueryClientProvider } from '@tanstack/react-query';
import {
  BrowserRouter,
  Navigate,
  Outlet,
  Route,
  Routes,
  useLocation,
  useParams,
} from 'react-router';
import { makeQueryClient, useTenants } from './api/queries';
import { AuthProvider, useMe } from './auth/AuthProvider';
import { RequireAuth } from './auth/RequireAuth';
import { can, isPlatformAdmin } from './auth/permissions';
import type { Action } from './auth/permissions';
import { Layout, lastTenant } from './components/Layout';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Toaster } from './components/toast';
import { Denied, NotFoundPage, Spinner } from './components/ui';
import { useTranslation } from 'react-i18next';

const LoginPage = lazy(() => import('./pages/LoginPage'));
const DashboardPage = lazy(() => import('./pages/DashboardPage'));
const OverviewPage = lazy(() => import('./pages/OverviewPage'));
const AssetsPage = lazy(() => import('./pages/AssetsPage'));
const AssetDetailPage = lazy(() => import('./pages/AssetDetailPage'));
const ScansPage = lazy(() => import('./pages/ScansPage'));
const ScanDetailPage = lazy(() => import('./pages/ScanDetailPage'));
const FindingsPage = lazy(() => import('./pages/FindingsPage'));
const CompliancePage = lazy(() => import('./pages/CompliancePage'));
const ModulesPage = lazy(() => import('./pages/ModulesPage'));
const UsersPage = lazy(() => import('./pages/UsersPage'));
const PlatformUsersPage = lazy(() => import('./pages/PlatformUsersPage'));
const CredentialsPage = lazy(() => import('./pages/CredentialsPage'));
const AuditPage = lazy(() => import('./pages/AuditPage'));
const SettingsPage = lazy(() => import('./pages/SettingsPage'));
const AccountPage = lazy(() => import('./pages/AccountPage'));

/** Renders children only when the user may perform `action` (in the route's tenant). */
export function Gate({ action, children }: { action: Action; children: ReactNode }) {
  const me = useMe();
  const { tenant } = useParams();
  return can(me, action, tenant) ? <>{children}</> : <Denied />;
}

function Home() {
  const me = useMe();
  const tenants = useTenants();
  const { t } = useTranslation();
  if (isPlatformAdmin(me)) return <Navigate to="/overview" replace />;
  if (tenants.isPending) return <Spinner />;
  const slugs = tenants.data?.items.map((x) => x.slug) ?? me.user.memberships.map((m) => m.tenant);
  const last = lastTenant();
  const slug = last && slugs.includes(last) ? last : slugs[0];
  if (!slug) {
    return (
      <div className="card mx-auto mt-8 max-w-lg p-6">
        <h1 className="text-xl font-bold">{t('noTenants.title')}</h1>
        <p className="mt-2 text-muted">{t('noTenants.body')}</p>
      </div>
    );
  }
  return <Navigate to={`/t/${encodeURIComponent(slug)}`} replace />;
}

function Shell() {
  const loc = useLocation();
  return (
    <RequireAuth>
      <Layout>
        <ErrorBoundary resetKey={loc.pathname}>
          <Suspense fallback={<Spinner />}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </Layout>
    </RequireAuth>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route
        path="/login"
        element={
          <Suspense fallback={null}>
            <LoginPage />
          </Suspense>
        }
      />
      <Route element={<Shell />}>
        <Route index element={<Home />} />
        <Route
          path="overview"
          element={
            <Gate action="platform.tenants.create">
              <OverviewPage />
            </Gate>
          }
        />
        <Route
          path="users"
          element={
            <Gate action="platform.users.read">
              <PlatformUsersPage />
            </Gate>
          }
        />
        <Route
          path="audit"
          element={
            <Gate action="platform.audit.read">
              <AuditPage />
            </Gate>
          }
        />
        <Route
          path="settings"
          element={
            <Gate action="platform.keys">
              <SettingsPage />
            </Gate>
          }
        />
        <Route path="account" element={<AccountPage />} />
        <Route path="t/:tenant">
          <Route
            index
            element={
              <Gate action="tenant.read">
                <DashboardPage />
              </Gate>
            }
          />
          <Route
            path="assets"
            element={
              <Gate action="tenant.read">
                <AssetsPage />
              </Gate>
            }
          />
          <Route
            path="assets/:id"
            element={
              <Gate action="tenant.read">
                <AssetDetailPage />
              </Gate>
            }
          />
          <Route
            path="scans"
            element={
              <Gate action="tenant.read">
                <ScansPage />
              </Gate>
            }
          />
          <Route
            path="scans/:id"
            element={
              <Gate action="tenant.read">
                <ScanDetailPage />
              </Gate>
            }
          />
          <Route
            path="findings"
            element={
              <Gate action="tenant.read">
                <FindingsPage />
              </Gate>
            }
          />
          <Route
            path="compliance"
            element={
              <Gate action="tenant.read">
                <CompliancePage />
              </Gate>
            }
          />
          <Route
            path="modules"
            element={
              <Gate action="tenant.read">
                <ModulesPage />
              </Gate>
            }
          />
          <Route
            path="users"
            element={
              <Gate action="tenant.users.read">
                <UsersPage />
              </Gate>
            }
          />
          <Route
            path="credentials"
            element={
              <Gate action="tenant.credentials.read">
                <CredentialsPage />
              </Gate>
            }
          />
          <Route
            path="audit"
            element={
              <Gate action="tenant.audit.read">
                <AuditPage />
              </Gate>
            }
          />
        </Route>
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App() {
  const [qc] = useState(makeQueryClient);
  return (
    <QueryClientProvider client={qc}>
      <BrowserRouter>
        <AuthProvider>
          <AppRoutes />
          <Toaster />
        </AuthProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
