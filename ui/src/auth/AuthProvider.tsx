// The session: restored from the refresh cookie on load, opened by the login form, ended by
// logout or by a refresh the server refuses (then the console goes back to the login page and
// says that the session expired).
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import type { SessionEndReason } from '../api/client';
import type { Me } from '../api/types';

export type AuthState =
  | { status: 'loading' }
  | { status: 'anonymous'; reason?: SessionEndReason }
  | { status: 'signed-in'; me: Me };

interface AuthContextValue {
  state: AuthState;
  login: (email: string, password: string, totp?: string) => Promise<void>;
  logout: () => Promise<void>;
  reloadMe: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function fetchMe(): Promise<Me> {
  return api.request<Me>('/v1/auth/me');
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState<AuthState>({ status: 'loading' });

  useEffect(() => {
    let live = true;
    const off = api.onSessionEnded((reason) => {
      qc.clear();
      setState({ status: 'anonymous', reason });
    });
    (async () => {
      if (!(await api.restore())) {
        if (live) setState({ status: 'anonymous' });
        return;
      }
      try {
        const me = await fetchMe();
        if (live) setState({ status: 'signed-in', me });
      } catch {
        if (live) setState({ status: 'anonymous' });
      }
    })();
    return () => {
      live = false;
      off();
    };
  }, [qc]);

  const login = useCallback(
    async (email: string, password: string, totp?: string) => {
      await api.login(email, password, totp);
      qc.clear();
      const me = await fetchMe();
      setState({ status: 'signed-in', me });
    },
    [qc],
  );

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } catch {
      // the session ends locally either way
    }
    qc.clear();
    setState({ status: 'anonymous', reason: 'signed-out' });
  }, [qc]);

  const reloadMe = useCallback(async () => {
    const me = await fetchMe();
    setState({ status: 'signed-in', me });
  }, []);

  const value = useMemo(
    () => ({ state, login, logout, reloadMe }),
    [state, login, logout, reloadMe],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}

/** The signed-in user; only for components under RequireAuth. */
export function useMe(): Me {
  const { state } = useAuth();
  if (state.status !== 'signed-in') throw new Error('useMe without a session');
  return state.me;
}

/** A path inside the console to return to after login, or '/' for anything else. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login')) return '/';
  return next;
}
