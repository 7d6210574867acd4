// The embedded PDP's workload (bench/cedar_workload.mjs) through the Cedar
// reference implementation, @cedar-policy/cedar-wasm, for the ratio that
// `make bench` reports. The policy set is parsed once (preparsePolicySet,
// statefulIsAuthorized), as the embedded PDP parses it once. Two runs:
//   full:   every request carries the 1,000 entities, as a PDP that holds
//           no entity store must pass them;
//   sliced: every request carries only the entities it can reach (principal,
//           its owner and the owner's roles, the context's user and roles,
//           resource, roles, actions), the best case for the reference.
// Prints one line per run: "full|sliced EVALS_PER_S ALLOWS EVALS".
// Usage: node bench/cedar_wasm_bench.mjs DIR [SECONDS] [MAX_EVALS]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cedar = createRequire(path.join(root, 'tests/integration/package.json'))('@cedar-policy/cedar-wasm/nodejs');
const [dir, seconds = '3', maxEvals = '200000'] = process.argv.slice(2);
const policies = readFileSync(path.join(dir, 'policies.cedar'), 'utf8');
const entities = JSON.parse(readFileSync(path.join(dir, 'entities.json'), 'utf8'));
const requests = JSON.parse(readFileSync(path.join(dir, 'requests.json'), 'utf8'));

const parsed = cedar.preparsePolicySet('bench', { staticPolicies: policies });
if (parsed.type !== 'success') throw new Error(`cedar-wasm refused the policies: ${JSON.stringify(parsed.errors)}`);

const byUid = new Map(entities.map((e) => [`${e.uid.type}::${e.uid.id}`, e]));
const key = (u) => `${u.type}::${u.id}`;
function slice(q) {
  const out = new Map();
  const add = (u) => {
    const e = u && byUid.get(key(u));
    if (!e || out.has(key(u))) return;
    out.set(key(u), e);
    for (const p of e.parents) add(p);
    if (e.attrs.owner) add(e.attrs.owner.__entity);
  };
  add(q.principal); add(q.resource); add(q.action);
  if (q.context.user) add(q.context.user.__entity);
  for (const e of entities) if (e.uid.type === 'Role') add(e.uid);
  return [...out.values()];
}

function run(name, entitiesOf) {
  const prepared = requests.map((q) => ({ ...q, preparsedPolicySetId: 'bench', entities: entitiesOf(q) }));
  const limit = Number(maxEvals), deadline = process.hrtime.bigint() + BigInt(Math.round(Number(seconds) * 1e9));
  let n = 0, allows = 0;
  const t0 = process.hrtime.bigint();
  while (n < limit) {
    const a = cedar.statefulIsAuthorized(prepared[n % prepared.length]);
    if (a.type !== 'success') throw new Error(`cedar-wasm failed: ${JSON.stringify(a.errors)}`);
    if (n < prepared.length && a.response.decision === 'allow') allows++;
    n++;
    // the sliced run makes at least one pass, so that its decisions can be compared
    if ((n & 63) === 0 && (name === 'full' || n >= prepared.length) && process.hrtime.bigint() > deadline) break;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name} ${Math.round(n / s)} ${allows} ${n}`);
}

run('full', () => entities);
run('sliced', slice);
