import type { ScanState } from '../api/types';

export function scanTone(s: ScanState): string {
  switch (s) {
    case 'succeeded':
      return 'ok';
    case 'failed':
      return 'danger';
    case 'running':
      return 'primary';
    case 'cancelled':
    case 'interrupted':
      return 'warn';
    default:
      return 'neutral';
  }
}

export function isActive(s: ScanState): boolean {
  return s === 'queued' || s === 'running' || s === 'interrupted';
}
