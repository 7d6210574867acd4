// Differential test of the embedded Cedar evaluator (src/policy/cedar/)
// against the Cedar reference implementation (@cedar-policy/cedar-wasm):
// thousands of generated policy sets, entities and requests inside the
// subset of SPEC §3.8 (lib/cedar_gen.mjs), evaluated by both; decision, the
// set of determining policies and the set of erring policies must agree on
// every case, and text the reference refuses must be refused by ours.
//
// Seeded: CEDAR_DIFF_SEED=N picks another seed (the seed is printed on
// failure), CEDAR_DIFF_CASES=N another number of cases. Ours runs as one
// process for all cases: build/tests/cedar_batch (tests/tools/cedar_batch.c).
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { MANDATE_BIN } from './lib/server.mjs';
import { rng, generateCase } from './lib/cedar_gen.mjs';

const DEFAULT_SEED = 20261207;
const SEED = process.env.CEDAR_DIFF_SEED !== undefined ? Number(process.env.CEDAR_DIFF_SEED) : DEFAULT_SEED;
const CASES = Number(process.env.CEDAR_DIFF_CASES || 3000);
const BATCH = process.env.CEDAR_BATCH || path.join(path.dirname(MANDATE_BIN), 'tests', 'cedar_batch');

// Runs every case through cedar_batch at once; one answer per request.
function runBatch(cases) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BATCH, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('cedar_batch: no answer within 120 s')); }, 120_000);
    proc.stdout.on('data', (d) => out.push(d));
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`cedar_batch exited ${code ?? signal}: ${err}`));
      resolve(Buffer.concat(out).toString('utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l)));
    });
    proc.stdin.end(cases.map((c) => JSON.stringify({ policies: c.policies, entities: c.entities, requests: c.requests })).join('\n') + '\n');
  });
}

function reference(c, q) {
  const a = cedar.isAuthorized({ ...q, policies: { staticPolicies: c.policies }, entities: c.entities });
  if (a.type !== 'success') return { refused: true, message: a.errors.map((e) => e.message).join('; ') };
  const d = a.response.diagnostics;
  return {
    decision: a.response.decision,
    reasons: [...d.reason].sort(),
    errors: d.errors.map((e) => e.policyId).sort(),
    messages: d.errors.map((e) => e.error.message),
  };
}

// the kinds of evaluation error, told apart by the reference's messages
const ERROR_KINDS = {
  'overflow on +': /overflow while attempting to add/,
  'overflow on -': /overflow while attempting to subtract/,
  'overflow on *': /overflow while attempting to multiply/,
  'overflow on negation': /overflow while attempting to negate/,
  'type error': /^type error/,
  'missing attribute of an entity': /^`.*` does not have the attribute/,
  'missing attribute of a record': /^record does not have the attribute/,
  'entity does not exist': /^entity `.*` does not exist/,
};

const sameSet = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

describe(`Cedar evaluator vs cedar-wasm ${cedar.getCedarVersion()} (seed ${SEED}, ${CASES} cases)`, () => {
  let cases, ours, stats;

  before(async () => {
    assert.ok(existsSync(BATCH), `${BATCH} not found: make all builds it`);
    const r = rng(SEED);
    stats = {};
    cases = Array.from({ length: CASES }, () => generateCase(r, stats));
    ours = await runBatch(cases);
  });

  test('decision, determining policies and erring policies agree on every case', () => {
    const total = cases.reduce((n, c) => n + c.requests.length, 0);
    assert.equal(ours.length, total, 'cedar_batch answers once per request');
    let k = 0;
    const seen = { allow: 0, deny: 0, forbidden: 0, refused: 0, erring: 0 };
    const kinds = Object.fromEntries(Object.keys(ERROR_KINDS).map((n) => [n, 0]));
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      for (let j = 0; j < c.requests.length; j++, k++) {
        const q = c.requests[j];
        const want = reference(c, q);
        const got = ours[k];
        const agree = want.refused
          ? got.refused !== undefined
          : got.refused === undefined && got.decision === want.decision &&
            sameSet([...got.reasons].sort(), want.reasons) && sameSet([...got.errors].sort(), want.errors);
        if (!agree) {
          const file = path.join(os.tmpdir(), `cedar-diff-${SEED}-${i}.ndjson`);
          const line = JSON.stringify({ policies: c.policies, entities: c.entities, requests: [q] });
          writeFileSync(file, line + '\n');
          assert.fail([
            `disagreement on case ${i}, request ${j} (CEDAR_DIFF_SEED=${SEED} CEDAR_DIFF_CASES=${CASES})`,
            `policies:\n${c.policies}`,
            `entities: ${JSON.stringify(c.entities)}`,
            `request: ${JSON.stringify(q)}`,
            `cedar-wasm: ${JSON.stringify(want)}`,
            `ours:       ${JSON.stringify(got)}`,
            `reproduce: ${BATCH} < ${file}`,
          ].join('\n'));
        }
        if (want.refused) { seen.refused++; continue; }
        seen[want.decision]++;
        if (want.decision === 'deny' && want.reasons.length) seen.forbidden++;
        if (want.errors.length) seen.erring++;
        for (const m of want.messages)
          for (const [n, re] of Object.entries(ERROR_KINDS)) if (re.test(m)) kinds[n]++;
      }
    }
    // the cases were not trivial: both decisions, forbids that decided,
    // refused text, and every kind of evaluation error
    for (const [n, v] of Object.entries(seen)) assert.ok(v > 0, `no case where ${n}: ${JSON.stringify(seen)}`);
    for (const [n, v] of Object.entries(kinds)) assert.ok(v > 0, `no evaluation error of kind "${n}": ${JSON.stringify(kinds)}`);
  });

  test('the generated policies use every operator and scope constraint of the subset', () => {
    const wanted = ['permit', 'forbid', 'when', 'unless', 'scope ==', 'scope in', 'scope is', 'scope is in',
      'action scope ==', 'action scope in', 'action scope in [..]', '&&', '||', '!', '==', '!=', '<', '<=',
      '>', '>=', '+', '-', '*', 'neg', 'if', 'attribute access', 'index access', 'has', 'like', 'in', 'in set',
      'action in', 'contains', 'containsAll', 'containsAny', 'set literal', 'record literal', 'entity literal',
      'string literal', 'long literal', 'bool literal', 'invalid text', 'entity cycle', 'duplicate entity', 'action with a non-action parent',
      'corner case'];
    for (const w of wanted) assert.ok((stats[w] || 0) >= 5, `the generator emitted "${w}" ${stats[w] || 0} times`);
  });
});
