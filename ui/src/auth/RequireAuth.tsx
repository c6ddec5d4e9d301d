import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from './AuthProvider';

/** Sends anonymous visitors to the login page, remembering where they wanted to go. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  const loc = useLocation();
  if (state.status === 'loading') {
    // Nothing of the protected page is drawn until the session is known: no flicker.
    return (
      <div className="flex min-h-screen items-center justify-center" aria-busy="true">
        <p className="text-muted">Loading…</p>
      </div>
    );
  }
  if (state.status === 'anonymous') {
    const next = loc.pathname + loc.search;
    const params = new URLSearchParams();
    if (next !== '/' && state.reason !== 'signed-out') params.set('next', next);
    if (state.reason === 'expired') params.set('expired', '1');
    const qs = params.toString();
    return <Navigate to={`/login${qs ? `?${qs}` : ''}`} replace />;
  }
  return <>{children}</>;
}
