// GET /metrics: the Prometheus text exposition, parsed by a Prometheus text-format parser.
// Known requests are made between two scrapes and every counter they touch must move by
// exactly what they did (histogram counts too); a scraper outside [metrics] allow gets 403.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createClient, createScope, freePort, sleep, startServer } from './lib/server.mjs';
import { API, agentMetadata, assertOAuthError, auditEvents, basic, get, post, show, tokenBasic } from './lib/oauth.mjs';

const CC = 'client_credentials';

/** Scrapes /metrics and returns {text, families by name}. */
async function scrape(srv) {
  const r = await fetch(`${srv.url}/metrics`);
  const text = await r.text();
  assert.equal(r.status, 200, text);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const fams = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  // The parser folds the series of a labelled histogram into one (it keeps only unlabelled
  // _sum and _count): read histograms a second time as untyped families, one per suffix.
  // (A family of suffixed series comes once per label set: merged by name.)
  const flat = new Map();
  for (const f of parsePrometheusTextFormat(text.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped'))) {
    flat.set(f.name, { ...f, metrics: [...(flat.get(f.name)?.metrics ?? []), ...f.metrics] });
  }
  return { text, fams, flat };
}

const sameLabels = (have = {}, want = {}) => Object.keys(want).every((k) => have[k] === want[k])
  && Object.keys(have).length === Object.keys(want).length;

/** A counter's or gauge's value (0 when the series is absent). */
function value(s, name, labels = {}) {
  const f = s.fams.get(name);
  const m = f?.metrics.find((x) => sameLabels(x.labels, labels));
  return m ? Number(m.value) : 0;
}

/** A histogram series: {count, sum, buckets: {le: cumulative count}} (zeros when absent). */
function histogram(s, name, labels = {}) {
  assert.equal(s.fams.get(name)?.type, 'HISTOGRAM', `${name} is a histogram`);
  const series = (suffix) => s.flat.get(`${name}_${suffix}`)?.metrics ?? [];
  const buckets = {};
  for (const m of series('bucket')) {
    const { le, ...rest } = m.labels;
    if (sameLabels(rest, labels)) buckets[le] = Number(m.value);
  }
  const one = (suffix) => Number(series(suffix).find((m) => sameLabels(m.labels, labels))?.value ?? 0);
  return { count: one('count'), sum: one('sum'), buckets };
}

/** A webhook receiver that answers 200 and counts what it got. */
async function receiver(port) {
  const got = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { got.push(req.url); res.writeHead(200).end(); });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    got,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

describe('/metrics', { timeout: 120_000 }, () => {
  let srv, dir, hook, agent;
  before(async () => {
    const port = await freePort();
    hook = await receiver(port);
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-metrics-'));
    await writeFile(path.join(dir, 'hook.secret'), 'webhook-secret-of-the-metrics-tests-0123\n');
    await writeFile(path.join(dir, 'hooks.json'),
      JSON.stringify([{ url: `http://127.0.0.1:${port}/hooks`, secret_file: 'hook.secret' }]));
    await writeFile(path.join(dir, 'resources.json'), JSON.stringify([{ resource: API, resource_name: 'Orders API',
      match: 'https://api.example.com:443/', scopes: { '*': ['read'] } }]));
    srv = await startServer({ config: {
      server: { trusted_proxies: '127.0.0.1' },
      forward_auth: { resources: path.join(dir, 'resources.json') },
      webhooks: { endpoints: path.join(dir, 'hooks.json') },
    } });
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, 'write', { description: 'Write things' });
    createScope(srv, 'payments:write', { description: 'Make payments', sensitivity: 'approval' });
    agent = createClient(srv, agentMetadata());
  });
  after(async () => {
    await srv?.stop();
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is the text format with HELP and TYPE, cumulative buckets and the build info', async () => {
    const s = await scrape(srv);
    for (const name of ['mandate_http_requests_total', 'mandate_http_request_duration_seconds',
      'mandate_tokens_issued_total', 'mandate_tokens_refused_total', 'mandate_forward_auth_decisions_total',
      'mandate_token_reads_total',
      'mandate_pdp_duration_seconds', 'mandate_approvals_pending', 'mandate_audit_commit_duration_seconds',
      'mandate_audit_batch_size', 'mandate_outbound_fetches_total', 'process_cpu_seconds_total',
      'process_resident_memory_bytes', 'mandate_build_info']) {
      assert.ok(s.text.includes(`# TYPE ${name} `), `TYPE line of ${name}`);
      assert.ok(s.text.includes(`# HELP ${name} `), `HELP line of ${name}`);
    }
    assert.equal(s.fams.get('mandate_tokens_issued_total').type, 'COUNTER');
    assert.equal(s.fams.get('mandate_approvals_pending').type, 'GAUGE');
    assert.equal(value(s, 'mandate_approvals_pending'), 0);
    assert.ok(value(s, 'process_resident_memory_bytes') > 0);
    assert.equal(s.fams.get('mandate_build_info').metrics[0].value, '1');
    // buckets are cumulative and end at +Inf = _count
    const h = histogram(s, 'mandate_audit_batch_size');
    const les = Object.keys(h.buckets);
    assert.equal(les.at(-1), '+Inf');
    const counts = les.map((le) => h.buckets[le]);
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], 'cumulative');
    assert.equal(counts.at(-1), h.count);
  });

  it('counters move by exactly the requests made between two scrapes', async () => {
    const eventsBefore = auditEvents(srv).length;
    const a = await scrape(srv);
    const fetchesBefore = hook.got.length;

    // two tokens issued, one refused for its scope, one for the client's secret, one 404,
    // one access request left pending (notified to the webhook)
    const issued = await tokenBasic(srv, agent, { scope: 'read', resource: API });
    assert.equal(issued.status, 200, show(issued));
    assert.equal((await tokenBasic(srv, agent, { scope: 'read' })).status, 200);
    // /forward-auth: one allowed, one without a token, one for no protected resource
    const fwd = (headers) => fetch(`${srv.url}/forward-auth`, { headers: { 'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/orders', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com', ...headers } });
    assert.equal((await fwd({ authorization: `Bearer ${issued.json.access_token}` })).status, 200);
    assert.equal((await fwd({})).status, 401);
    assert.equal((await fwd({ 'x-forwarded-host': 'elsewhere.example.com' })).status, 403);
    assertOAuthError(await tokenBasic(srv, agent, { scope: 'nope' }), 400, 'invalid_scope');
    assertOAuthError(await tokenBasic(srv, { ...agent, client_secret: 'wrong' }), 401, 'invalid_client');
    assert.equal((await get(srv, '/no/such/endpoint/4711')).status, 404);
    const filed = await post(srv, '/access-requests', JSON.stringify({ scope: 'payments:write', justification: 'metrics' }), {
      contentType: 'application/json', headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(filed.status, 201, show(filed));
    // the webhook's delivery is asynchronous: wait for it (bounded)
    for (let i = 0; i < 200 && hook.got.length === fetchesBefore; i++) await sleep(50);
    assert.equal(hook.got.length, fetchesBefore + 1, 'the webhook was notified');
    let b;
    for (let i = 0; i < 100; i++) {
      b = await scrape(srv);
      if (value(b, 'mandate_outbound_fetches_total', { kind: 'webhook', outcome: 'ok' })
        > value(a, 'mandate_outbound_fetches_total', { kind: 'webhook', outcome: 'ok' })) break;
      await sleep(50);
    }
    const scrapes = value(b, 'mandate_http_requests_total', { endpoint: '/metrics', status: '200' })
      - value(a, 'mandate_http_requests_total', { endpoint: '/metrics', status: '200' });
    const d = (name, labels) => value(b, name, labels) - value(a, name, labels);
    const dh = (name, labels) => histogram(b, name, labels).count - histogram(a, name, labels).count;

    assert.equal(d('mandate_tokens_issued_total', { grant: CC }), 2);
    assert.equal(d('mandate_tokens_refused_total', { grant: CC, reason: 'invalid_scope' }), 1);
    assert.equal(d('mandate_tokens_refused_total', { grant: CC, reason: 'invalid_client' }), 1);
    assert.equal(d('mandate_tokens_issued_total', { grant: 'authorization_code' }), 0);
    assert.equal(d('mandate_http_requests_total', { endpoint: '/token', status: '200' }), 2);
    assert.equal(d('mandate_http_requests_total', { endpoint: '/token', status: '400' }), 1);
    assert.equal(d('mandate_http_requests_total', { endpoint: '/token', status: '401' }), 1);
    assert.equal(d('mandate_http_requests_total', { endpoint: 'unmatched', status: '404' }), 1);
    assert.equal(d('mandate_http_requests_total', { endpoint: '/access-requests', status: '201' }), 1);
    assert.equal(dh('mandate_http_request_duration_seconds', { endpoint: '/token' }), 4);
    assert.equal(dh('mandate_http_request_duration_seconds', { endpoint: 'unmatched' }), 1);
    assert.equal(dh('mandate_http_request_duration_seconds', { endpoint: '/metrics' }), scrapes);
    assert.ok(scrapes >= 1);
    assert.equal(value(b, 'mandate_approvals_pending') - value(a, 'mandate_approvals_pending'), 1);
    assert.equal(d('mandate_outbound_fetches_total', { kind: 'webhook', outcome: 'ok' }), 1);
    assert.equal(d('mandate_forward_auth_decisions_total', { decision: 'allow' }), 1);
    assert.equal(d('mandate_forward_auth_decisions_total', { decision: 'unauthorized' }), 1);
    assert.equal(d('mandate_forward_auth_decisions_total', { decision: 'forbidden' }), 1);
    assert.equal(d('mandate_forward_auth_decisions_total', { decision: 'error' }), 0);
    assert.equal(d('mandate_http_requests_total', { endpoint: '/forward-auth', status: '200' }), 1);
    // the one token /forward-auth read: its signature verified (first use)
    assert.equal(d('mandate_token_reads_total', { signature: 'verified' }), 1);
    assert.equal(d('mandate_token_reads_total', { signature: 'cached' }), 0);
    // every audit event the requests caused went through one group commit
    const events = auditEvents(srv).length - eventsBefore;
    assert.ok(events >= 5, `audit events: ${events}`);
    assert.equal(histogram(b, 'mandate_audit_batch_size').sum - histogram(a, 'mandate_audit_batch_size').sum, events);
    const commits = dh('mandate_audit_batch_size');
    assert.ok(commits >= 1 && commits <= events, `commits: ${commits}`);
    assert.equal(dh('mandate_audit_commit_duration_seconds'), commits);
  });
});

describe('/metrics from a client outside [metrics] allow', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer({ config: { metrics: { allow: '10.0.0.0/8' } } }); });
  after(async () => { await srv?.stop(); });

  it('is refused with 403 and shows nothing', async () => {
    const r = await fetch(`${srv.url}/metrics`);
    const text = await r.text();
    assert.equal(r.status, 403, text);
    assert.equal(JSON.parse(text).error, 'access_denied');
    assert.ok(!text.includes('mandate_'), text);
  });
});
