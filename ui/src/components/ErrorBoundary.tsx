// Keeps a page that throws while rendering from blanking the whole console: the frame stays
// usable and the page says what failed.
import { Component } from 'react';
import type { ErrorInfo, ReactNode } from 'react';

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidUpdate(prev: { resetKey?: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('console page failed', error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <div role="alert" className="card mx-auto mt-8 max-w-lg p-6">
          <h1 className="text-xl font-bold">This page could not be shown</h1>
          <p className="mt-2 text-sm text-muted">{this.state.error.message}</p>
          <p className="mt-2 text-sm text-muted">
            Reload the page; if it happens again, report it with the steps.
          </p>
        </div>
      );
    }
    return this.props.children;
  }
}
