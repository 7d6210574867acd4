// The embedded PDP's benchmark workload: an agent deployment of 1,000
// entities (clients with kind, tier, owner and auth method; users in roles;
// scopes with sensitivity; resources) and 100 policies mixing permits and
// forbids with conditions, plus requests as token issuance asks them.
// Deterministic (fixed seed). Writes DIR/policies.cedar, DIR/entities.json
// and DIR/requests.json (an array of {principal, action, resource, context}).
// Usage: node bench/cedar_workload.mjs DIR [REQUESTS]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const nreq = Number(process.argv[3] || 1000);
if (!dir) { console.error('usage: cedar_workload.mjs DIR [REQUESTS]'); process.exit(2); }

let s = 0x2545f491;
const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
const int = (n) => Math.floor(next() * n);
const pick = (a) => a[int(a.length)];
const ref = (type, id) => ({ __entity: { type, id } });

const ROLES = ['admin', 'approver', 'auditor', 'developer', 'support'];
const KINDS = ['agent', 'agent', 'agent', 'service', 'web'];
const TIERS = ['low', 'low', 'medium', 'high'];
const METHODS = ['client_secret_basic', 'private_key_jwt', 'tls_client_auth', 'none'];
const SENS = ['normal', 'normal', 'normal', 'consent', 'approval'];
const NUSERS = 200, NSCOPES = 150, NRES = 41, NCLIENTS = 1000 - ROLES.length - NUSERS - NSCOPES - NRES - 4;

const entities = [];
for (const r of ROLES) entities.push({ uid: { type: 'Role', id: r }, attrs: {}, parents: [] });
for (let i = 0; i < NUSERS; i++) {
  const roles = [...new Set([pick(ROLES), ...(next() < 0.3 ? [pick(ROLES)] : [])])];
  entities.push({
    uid: { type: 'User', id: `user${i}` },
    attrs: { roles, status: next() < 0.95 ? 'active' : 'disabled' },
    parents: roles.map((r) => ({ type: 'Role', id: r })),
  });
}
for (let i = 0; i < NRES; i++)
  entities.push({ uid: { type: 'Resource', id: `https://api${i}.example` }, attrs: { name: `API ${i}` }, parents: [] });
for (let i = 0; i < NSCOPES; i++)
  entities.push({
    uid: { type: 'Scope', id: `scope${i}` },
    attrs: { sensitivity: pick(SENS), description: pick(['read the calendar', 'write mail', 'read files', 'payments', 'admin']) },
    parents: [],
  });
for (let i = 0; i < NCLIENTS; i++) {
  const attrs = {
    kind: pick(KINDS), risk_tier: pick(TIERS), status: next() < 0.97 ? 'active' : 'suspended',
    token_endpoint_auth_method: pick(METHODS), verified: next() < 0.6,
    origin: pick(['admin', 'registration', 'cimd']),
  };
  if (next() < 0.7) attrs.owner = ref('User', `user${int(NUSERS)}`);
  if (next() < 0.3) attrs.software_id = `sw-${int(20)}`;
  entities.push({ uid: { type: 'Client', id: `client${i}` }, attrs, parents: [] });
}
for (const a of ['token.issue', 'read', 'write', 'admin'])
  entities.push({ uid: { type: 'Action', id: a }, attrs: {}, parents: [] });

const policies = [
  // the baseline: what entitlements allow
  'permit (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { principal.status == "active" && resource.sensitivity == "normal" };',
  'permit (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { principal.verified && resource.sensitivity == "consent" && context has user };',
  'forbid (principal is Client, action, resource)\n  when { principal.status != "active" };',
  'forbid (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { principal.risk_tier == "high" && principal.token_endpoint_auth_method == "client_secret_basic" && resource.sensitivity == "approval" };',
  'forbid (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { principal.kind == "agent" && resource.sensitivity == "approval" && (context.risk.hour < 8 || context.risk.hour >= 18) }\n  unless { context.entitlement.source == "access_request" && context.entitlement.expires_at > 0 };',
  'forbid (principal, action == Action::"token.issue", resource)\n  when { context.risk.requests_last_minute > 600 || context.risk.auth_failures_last_hour > 20 };',
  'forbid (principal is Client, action, resource is Scope)\n  when { context.risk.new_ip && context.risk.new_credential && resource.sensitivity != "normal" };',
  'permit (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { principal has owner && principal.owner in Role::"developer" && resource.description like "read*" };',
  'forbid (principal is Client, action, resource)\n  when { principal has owner && principal.owner.status == "disabled" };',
  'permit (principal is Client, action in [Action::"read", Action::"token.issue"], resource is Resource)\n  when { principal.kind == "service" };',
];
// per-scope rules, as operators add them one at a time
while (policies.length < 100) {
  const i = policies.length;
  const sc = `Scope::"scope${int(NSCOPES)}"`;
  switch (i % 5) {
    case 0: policies.push(`permit (principal is Client, action == Action::"token.issue", resource == ${sc})\n  when { principal.kind == "agent" && principal.risk_tier != "high" && context.delegation_depth <= 2 };`); break;
    case 1: policies.push(`forbid (principal is Client, action == Action::"token.issue", resource == ${sc})\n  unless { principal.verified && principal.token_endpoint_auth_method != "client_secret_basic" };`); break;
    case 2: policies.push(`permit (principal is Client, action == Action::"token.issue", resource == ${sc})\n  when { context has user && context.user in Role::"${pick(ROLES)}" && ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"].contains(context.grant_type) };`); break;
    case 3: policies.push(`forbid (principal == Client::"client${int(NCLIENTS)}", action, resource);`); break;
    default: policies.push(`permit (principal is Client, action == Action::"token.issue", resource is Scope)\n  when { resource in [${sc}, Scope::"scope${int(NSCOPES)}"] && context.audience.containsAny(["https://api${int(NRES)}.example", "https://api${int(NRES)}.example"]) && context.risk.requests_last_hour < ${100 + int(900)} };`);
  }
}

const requests = [];
for (let i = 0; i < nreq; i++) {
  const person = next() < 0.5;
  const context = {
    grant_type: person ? pick(['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange']) : 'client_credentials',
    auth_method: pick(METHODS),
    delegation_depth: person ? int(3) : 0,
    audience: [`https://api${int(NRES)}.example`],
    entitlement: { source: next() < 0.2 ? 'access_request' : 'static', expires_at: next() < 0.2 ? 1796000000 : 0 },
    risk: {
      requests_last_minute: int(700), requests_last_hour: int(5000), auth_failures_last_hour: int(25),
      hour: int(24), new_ip: next() < 0.1, new_credential: next() < 0.05,
    },
  };
  if (person) context.user = ref('User', `user${int(NUSERS)}`);
  requests.push({
    principal: { type: 'Client', id: `client${int(NCLIENTS)}` },
    action: { type: 'Action', id: 'token.issue' },
    resource: { type: 'Scope', id: `scope${int(NSCOPES)}` },
    context,
  });
}

mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'policies.cedar'), policies.join('\n') + '\n');
writeFileSync(path.join(dir, 'entities.json'), JSON.stringify(entities));
writeFileSync(path.join(dir, 'requests.json'), JSON.stringify(requests));
console.log(`cedar workload: ${policies.length} policies, ${entities.length} entities, ${requests.length} requests in ${dir}`);
