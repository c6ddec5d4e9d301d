// Shapes of the appliance's API (docs/openapi.yaml), as far as the console reads them.

export type TenantRole = 'admin' | 'standard' | 'auditor';

export interface Membership {
  tenant_id: string;
  tenant: string;
  role: TenantRole;
}

export interface User {
  id: string;
  email: string;
  platform_role: 'admin' | '';
  disabled: boolean;
  mfa_enabled: boolean;
  memberships: Membership[];
  created_at: string;
  updated_at: string;
}

export interface Me {
  user: User;
  permissions: Record<string, string[]>;
  mfa: boolean;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  key_version: number;
  require_mfa: boolean;
  created_at: string;
  updated_at: string;
}

export interface AssetService {
  port: number;
  protocol: 'tcp' | 'udp';
  service: string;
  product: string;
  version: string;
}

export interface Asset {
  id: string;
  name: string;
  addresses: string[];
  macs: string[];
  hostnames: string[];
  type: string;
  vendor: string;
  model: string;
  os: string;
  firmware: string;
  serial: string;
  first_seen: string;
  last_seen: string;
  services: AssetService[];
}

export interface AssetDetail extends Asset {
  ad_objects: string[];
  machine_ids: string[];
  evidence: {
    at: string;
    source: string;
    confidence: number;
    reason: string;
    merged_from: string[];
  }[];
  interfaces: { index: number; name: string; mac: string; addresses: string[] }[];
  neighbours: { address: string; mac: string; via: string }[];
  history: { at: string; field: string; old: string; new: string }[];
}

export type ScanState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export interface ScanSummary {
  hosts?: number;
  open_ports?: number;
  assets?: {
    id?: string;
    address?: string;
    name?: string;
    new?: boolean;
    services?: AssetService[];
  }[];
  errors?: { target: string; error: string }[];
  notes?: string[];
}

export interface ScanJob {
  id: string;
  state: ScanState;
  request: { targets?: string[]; ports?: string; credentials?: string[]; exclude?: string[] };
  created: string;
  started?: string;
  finished?: string;
  stage?: string;
  done: number;
  total: number;
  summary?: ScanSummary;
  error?: string;
  requested_by?: string;
  schedule_id?: string;
  interruptions: number;
}

export interface ScanSchedule {
  id: string;
  cron: string;
  request: { targets?: string[]; ports?: string };
  created: string;
  created_by?: string;
  last_fired?: string;
}

export interface Credential {
  id: string;
  name: string;
  kind: 'snmp-v2c' | 'snmp-v3';
  metadata: Record<string, string>;
  has_secret: boolean;
  created: string;
  updated: string;
  created_by?: string;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  actor: string;
  actor_ip: string;
  tenant: string;
  action: string;
  target: string;
  outcome: 'success' | 'failure' | 'denied';
  diff?: unknown;
  trace_id: string;
  hash: string;
}

export interface KeyInfo {
  kind: string;
  tenant?: string;
  id?: string;
  source?: string;
  version: number;
  created_at: string;
  age_days: number;
  rotate_by: string;
  due: boolean;
  retained_versions: number;
}

export interface Session {
  id: string;
  ip: string;
  user_agent: string;
  created_at: string;
  last_seen: string;
  expires_at: string;
  mfa: boolean;
  current?: boolean;
}

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface Finding {
  id: string;
  check: string;
  severity: Severity;
  title: string;
  resource: string;
  asset_id: string;
  evidence: string;
  mappings?: Record<string, string[]> | null;
  remediation: string;
  status: 'open' | 'waived' | 'resolved';
  first_seen: string;
  last_seen: string;
  waiver?: { reason: string; approver: string; expires_at: string };
}

export interface FrameworkScore {
  id: string;
  name: string;
  /** null until the framework has been evaluated. */
  score: number | null;
  passed: number;
  failed: number;
  not_applicable: number;
}

export interface ComplianceSummary {
  score: number | null;
  last_run?: string | null;
  frameworks: FrameworkScore[] | null;
}

export interface ComplianceControl {
  id: string;
  title: string;
  status: string;
  failing_assets: { id: string; name: string }[] | null;
  checks: string[] | null;
}

export interface ComplianceFramework {
  framework: FrameworkScore;
  controls: ComplianceControl[] | null;
}

export interface TrendPoint {
  date: string;
  framework: string;
  score: number;
}

export interface OverviewRow {
  tenant: { id: string; slug: string; name: string };
  assets: number;
  score: number | null;
  critical_findings: number;
  last_scan: string | null;
}

export interface ModuleInfo {
  slug: string;
  version: string;
  kind: string;
  name: string;
  category: string;
  state: string;
  platforms: string[] | null;
  severity?: string;
  frameworks: string[] | null;
}

export interface TLSStatus {
  mode: string;
  min_version: string;
  subject: string;
  issuer: string;
  dns_names: string[];
  ip_addresses: string[];
  not_after: string;
  fingerprint: string;
  notes: string[];
}

/** The answer of POST /v1/auth/mfa/totp: the new secret, to add to an authenticator app. */
export interface TOTPEnrolment {
  secret: string;
  uri: string;
  /** A QR code of `uri`, as a base64-encoded PNG. */
  qr_png: string;
}

/** An automation credential scoped to one tenant and one role; never its secret. */
export interface APIToken {
  id: string;
  name: string;
  tenant_id: string;
  role: TenantRole;
  created_by: string;
  created_at: string;
  expires_at: string;
  last_used?: string;
  revoked_at?: string;
}

/** A just-created API token with its secret (`tna_…`), shown this once. */
export interface CreatedAPIToken extends APIToken {
  token: string;
}
