// A seeded generator of Cedar cases (policy set text, entities, requests)
// inside the subset of SPEC §3.8, for the differential test against the
// Cedar reference implementation (cedar_diff.test.mjs).
//
// Expressions are generated for an intended type, and now and then for the
// wrong one, so that every kind of evaluation error happens: integer
// overflow near the int64 limits, type errors, missing attributes of
// entities and records, attributes of entities that do not exist. A few
// cases are deliberately invalid text (both implementations must refuse
// them). `stats` counts every operator and construct emitted, so that a
// test can prove the generator did not collapse to trivial cases.

export function rng(seed) {
  let s = (seed >>> 0) || 1;
  const next = () => { // xorshift32
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const EDGE_LONGS = [INT64_MAX, INT64_MIN, INT64_MAX - 1n, INT64_MIN + 1n, 4611686018427387904n,
  -4611686018427387904n, 3037000500n, -3037000500n, 4294967296n, 0n, 1n, -1n, 2n, 7n, 100n, -42n];

// Entity types (one namespaced) and the ids used; some ids need escapes.
const TYPES = ['User', 'Group', 'Client', 'Scope', 'NS::Doc'];
const IDS = ['alice', 'bob', 'carol', 'g1', 'g2', 'c1', '', 'with space', 'quo"te', 'back\\slash', 'ünï', 'tab\there'];
const ACTIONS = ['read', 'write', 'token.issue', 'delete'];
const ACTION_GROUPS = ['readers', 'all'];
// attribute names: identifiers, plus one that only the ["..."] / has "..." forms can name
const ATTRS = ['name', 'level', 'tags', 'owner', 'active', 'info', 'kind', 'risk_tier', 'n', 'with space'];
const CTX_KEYS = ['n', 'flag', 'who', 'list', 'rec', 'label', 'hour', 'with space'];
const STRINGS = ['', 'a', 'abc', 'agent', 'high', 'low', 'a*b', 'x\\y', 'line\nbreak', 'quo"te', 'é', 'ab', 'ba', '*'];

// Fixed conditions at the corners of the language (escapes, reserved words,
// short-circuits, structural equality, overflow boundaries), mixed into the
// generated ones; some of them Cedar refuses.
const CORNERS = [
  '"*" like "\\u{2a}"', '"a*" like "a\\u{2a}"', '"ab" like "a\\u{2a}"', '"A" == "\\x41"', '"\\r\\0" == "\\u{d}\\u{0}"',
  '{if: 1} == {if: 1}', 'context has if', '{"a": 1, b: 2} == {b: 2, a: 1}', '[[1, 2], [3]] == [[3], [2, 1]]',
  '[{a: 1}, {a: 1}] == [{a: 1}]', 'User::"\\u{e9}" == User::"é"', 'principal is NS::Doc', 'NS :: Doc::"x" == NS::Doc::"x"',
  'User::"a" in [User::"b", User::"a"]', '[].contains(1)', '"" like ""', '"" like "*"', '"\\\\" like "\\\\"', '"a\\\\b" like "a\\\\*"',
  '"\\u{1F600}" like "?"', '"\\u{1F600}x" like "*x"', 'principal.true', '{true: 1}.true == 1', 'context["if"] == 1', '{"": 1} has ""',
  '1 == 1 // comment\n', '(1) == (((1)))', '[1, [2]].contains([2])', '[1].containsAll([])', '[].containsAny([])',
  'principal in principal', 'User::"x" in User::"x"', 'Action::"read" in Action::"all"', 'action in [action]', 'context == {}',
  '{a: {b: {c: 1}}}.a.b.c == 1', '{a: 1}["a"] == 1', '-(-(1)) == 1', '9223372036854775807 + 0 == 9223372036854775807',
  '(-9223372036854775807 - 1) * -1 == 0', '(-9223372036854775808) * 0 == 0', '0 * (-9223372036854775808) == 0', '-1 * (-9223372036854775808) == 0',
  '3037000500 * 3037000500 > 0', '3037000499 * 3037000499 > 0', 'if true then 1 else 1 + "a"', 'if false then 1 + "a" else 2',
  'true || 1', 'false && 1', 'false || 1', 'true && 1', '!(1 == 1) || principal.nope', 'principal has nope && principal.nope',
  'User::"ghost" has x', 'User::"ghost" in User::"ghost2"', 'principal like "a"', '"é" like "\\u{e9}"', '"\\t" like "\\t*"',
  'principal is User in [User::"alice"]', 'principal is User && principal in User::"alice"',
];

export function quote(s) {
  let out = '"';
  for (const ch of s) {
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === 'é') out += '\\u{e9}';
    else out += ch;
  }
  return out + '"';
}

// a like pattern: a literal with its stars escaped, and some wildcards
function pattern(r, s) {
  let out = '"';
  const star = () => (r.chance(0.85) ? '*' : r.pick(['\\u{2a}', '\\x2a', '\\u{002A}']));
  for (const ch of s) {
    if (r.chance(0.2)) out += star();
    if (ch === '*') out += '\\*';
    else if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (r.chance(0.1)) out += star();
    else out += ch;
  }
  if (r.chance(0.3)) out += star();
  return out + '"';
}

const uidText = (t, id) => `${t}::${quote(id)}`;

export function generateCase(r, stats) {
  const count = (k) => { stats[k] = (stats[k] || 0) + 1; };

  // --- entities: a DAG (parents only later in the list), some uids left out ---
  const uids = [];
  for (const t of TYPES)
    for (const id of IDS) if (r.chance(0.3)) uids.push([t, id]);
  if (uids.length === 0) uids.push(['User', 'alice']);
  // shuffle, so that hierarchy goes every way between types
  for (let i = uids.length - 1; i > 0; i--) { const j = r.int(i + 1); [uids[i], uids[j]] = [uids[j], uids[i]]; }
  const stored = uids.filter(() => r.chance(0.85));
  const refOf = ([t, id]) => ({ type: t, id });
  const anyUid = () => (r.chance(0.85) ? r.pick(uids) : [r.pick(TYPES), r.pick(IDS)]);

  function value(depth) { // a JSON attribute value
    switch (r.int(depth > 1 ? 4 : 7)) {
      case 0: return r.pick(STRINGS);
      case 1: return Number(r.pick([0n, 1n, -1n, 7n, 100n, 42n, 3037000500n, 4611686018427387904n]) * (r.chance(0.5) ? 1n : -1n));
      case 2: return r.chance(0.5);
      case 3: return { __entity: refOf(anyUid()) };
      case 4: { const n = r.int(4); const a = []; for (let i = 0; i < n; i++) a.push(value(depth + 1)); return a; }
      case 5: { const o = {}; const n = r.int(3); for (let i = 0; i < n; i++) o[r.pick(ATTRS)] = value(depth + 1); return o; }
      default: return r.pick(STRINGS);
    }
  }
  const entities = stored.map((u, i) => {
    const attrs = {};
    for (const a of ATTRS) {
      if (!r.chance(0.45)) continue;
      if (a === 'level' || a === 'n') attrs[a] = r.pick([0, 1, 5, 10, -3, 3037000500, 4611686018427387904]);
      else if (a === 'name' || a === 'kind' || a === 'risk_tier') attrs[a] = r.pick(STRINGS);
      else if (a === 'active') attrs[a] = r.chance(0.5);
      else if (a === 'owner') attrs[a] = { __entity: refOf(anyUid()) };
      else if (a === 'tags') attrs[a] = [...new Set(Array.from({ length: r.int(4) }, () => r.pick(STRINGS)))];
      else attrs[a] = value(1);
    }
    const parents = [];
    for (let j = i + 1; j < stored.length; j++) if (r.chance(0.15)) parents.push(refOf(stored[j]));
    if (r.chance(0.05)) parents.push(refOf([r.pick(TYPES), 'missing parent']));
    return { uid: refOf(u), attrs, parents };
  });
  // the actions, in groups
  const actionEntities = ACTIONS.map((a) => ({
    uid: { type: 'Action', id: a }, attrs: {},
    parents: ACTION_GROUPS.filter((g, k) => (k === 1 || r.chance(0.5))).map((g) => ({ type: 'Action', id: g })),
  }));
  actionEntities.push({ uid: { type: 'Action', id: 'readers' }, attrs: {}, parents: [{ type: 'Action', id: 'all' }] });
  actionEntities.push({ uid: { type: 'Action', id: 'all' }, attrs: {}, parents: [] });

  // --- expressions ---
  const maybeParen = (s) => (r.chance(0.05) ? s : `(${s})`);
  const actionRef = () => uidText('Action', r.pick([...ACTIONS, ...ACTION_GROUPS]));
  const entityLit = () => { const [t, id] = anyUid(); return uidText(t, id); };

  function longLit() {
    const v = r.chance(0.5) ? r.pick(EDGE_LONGS) : BigInt(r.int(20) - 5);
    count('long literal');
    if (v < 0n) return r.chance(0.5) ? `(${v})` : `${v}`;
    return `${v}`;
  }
  function entityExpr(d) {
    switch (r.int(d > 2 ? 3 : 6)) {
      case 0: return 'principal';
      case 1: return 'resource';
      case 2: count('entity literal'); return entityLit();
      case 3: count('attribute access'); return `${r.pick(['principal', 'resource'])}.owner`;
      case 4: count('attribute access'); return 'context.who';
      default: count('if'); return `(if ${boolExpr(d + 1)} then ${entityExpr(d + 1)} else ${entityExpr(d + 1)})`;
    }
  }
  function longExpr(d) {
    const k = d > 3 ? r.int(3) : r.int(10);
    switch (k) {
      case 0: case 1: return longLit();
      case 2: {
        count('attribute access');
        const base = r.pick(['principal', 'resource', 'principal.owner']), a = r.pick(['level', 'n']);
        if (r.chance(0.15)) { count('index access'); return `${base}[${quote(a)}]`; }
        return `${base}.${a}`;
      }
      case 3: count('+'); return maybeParen(`${longExpr(d + 1)} + ${longExpr(d + 1)}`);
      case 4: count('-'); return maybeParen(`${longExpr(d + 1)} - ${longExpr(d + 1)}`);
      case 5: count('*'); return maybeParen(`${longExpr(d + 1)} * ${longExpr(d + 1)}`);
      case 6: count('neg'); return `-(${longExpr(d + 1)})`;
      case 7: count('if'); return `(if ${boolExpr(d + 1)} then ${longExpr(d + 1)} else ${longExpr(d + 1)})`;
      case 8: return r.chance(0.5) ? `context.n` : `context.hour`;
      default: return anyExpr(d + 1); // a type error, usually
    }
  }
  function stringExpr(d) {
    switch (r.int(d > 3 ? 2 : 5)) {
      case 0: count('string literal'); return quote(r.pick(STRINGS));
      case 1: count('attribute access'); return `${r.pick(['principal', 'resource'])}.${r.pick(['name', 'kind', 'risk_tier'])}`;
      case 2: count('attribute access'); return 'context.label';
      case 3: count('if'); return `(if ${boolExpr(d + 1)} then ${stringExpr(d + 1)} else ${stringExpr(d + 1)})`;
      default: return anyExpr(d + 1);
    }
  }
  function setExpr(d) {
    switch (r.int(d > 3 ? 2 : 5)) {
      case 0: {
        count('set literal');
        const n = r.int(4);
        const el = r.pick([() => longExpr(d + 1), () => stringExpr(d + 1), () => entityExpr(d + 1), () => anyExpr(d + 1)]);
        return `[${Array.from({ length: n }, el).join(', ')}]`;
      }
      case 1: count('attribute access'); return `${r.pick(['principal', 'resource'])}.tags`;
      case 2: count('attribute access'); return 'context.list';
      case 3: count('if'); return `(if ${boolExpr(d + 1)} then ${setExpr(d + 1)} else ${setExpr(d + 1)})`;
      default: return anyExpr(d + 1);
    }
  }
  function recordExpr(d) {
    switch (r.int(d > 3 ? 2 : 3)) {
      case 0: {
        count('record literal');
        const keys = [...new Set(Array.from({ length: r.int(3) }, () => r.pick(ATTRS)))];
        return `{${keys.map((k) => `${k === 'with space' || r.chance(0.3) ? quote(k) : k}: ${anyExpr(d + 1)}`).join(', ')}}`;
      }
      case 1: count('attribute access'); return r.pick(['context.rec', 'principal.info', 'context', 'resource.info']);
      default: count('if'); return `(if ${boolExpr(d + 1)} then ${recordExpr(d + 1)} else ${recordExpr(d + 1)})`;
    }
  }
  function anyExpr(d) {
    return r.pick([longExpr, stringExpr, boolExpr, entityExpr, setExpr, recordExpr])(d + 1);
  }
  function boolExpr(d) {
    const k = d > 2 ? r.int(3) : r.int(25);
    switch (k) {
      case 24: count('corner case'); return `(${r.pick(CORNERS)})`;
      case 22: case 23: { // arithmetic at the int64 limits: overflow errors, or not
        const op = r.pick(['+', '-', '*', 'neg']);
        count(op);
        const edge = () => `(${r.pick(EDGE_LONGS)})`;
        if (op === 'neg') return `-(${r.pick(['(-9223372036854775807 - 1)', '(-9223372036854775808)', longLit()])}) ${r.pick(['==', '<'])} ${longLit()}`;
        return `(${edge()} ${op} ${r.chance(0.5) ? edge() : longExpr(d + 1)}) ${r.pick(['==', '!=', '<', '>='])} ${longLit()}`;
      }
      case 0: count('bool literal'); return r.chance(0.5) ? 'true' : 'false';
      case 1: count('attribute access'); return r.pick(['principal.active', 'resource.active', 'context.flag']);
      case 2: { const op = r.pick(['==', '!=']); count(op); return maybeParen(`${anyExpr(d + 1)} ${op} ${anyExpr(d + 1)}`); }
      case 3: case 4: { const op = r.pick(['<', '<=', '>', '>=']); count(op); return maybeParen(`${longExpr(d + 1)} ${op} ${longExpr(d + 1)}`); }
      case 5: count('&&'); return maybeParen(`${boolExpr(d + 1)} && ${boolExpr(d + 1)}`);
      case 6: count('||'); return maybeParen(`${boolExpr(d + 1)} || ${boolExpr(d + 1)}`);
      case 7: count('!'); return `!(${boolExpr(d + 1)})`;
      case 8: count('if'); return `(if ${boolExpr(d + 1)} then ${boolExpr(d + 1)} else ${boolExpr(d + 1)})`;
      case 9: case 10: { count('like'); const s = r.pick(STRINGS); return maybeParen(`${stringExpr(d + 1)} like ${pattern(r, s)}`); }
      case 11: case 12: {
        count('has');
        const a = r.pick(ATTRS);
        const base = r.pick([() => entityExpr(d + 1), () => recordExpr(d + 1), () => 'context', () => anyExpr(d + 1)])();
        return maybeParen(`${base} has ${a === 'with space' || r.chance(0.2) ? quote(a) : a}`);
      }
      case 13: case 14: {
        count('in');
        const rhs = r.chance(0.7) ? entityExpr(d + 1)
          : (count('in set'), `[${Array.from({ length: r.int(3) }, () => (r.chance(0.9) ? entityExpr(d + 1) : anyExpr(d + 1))).join(', ')}]`);
        const lhs = r.chance(0.9) ? entityExpr(d + 1) : anyExpr(d + 1);
        return maybeParen(`${lhs} in ${rhs}`);
      }
      case 15: count('action in'); return maybeParen(`action in ${r.chance(0.5) ? actionRef() : `[${actionRef()}, ${actionRef()}]`}`);
      case 16: case 17: count('contains'); return `${setExpr(d + 1)}.contains(${anyExpr(d + 1)})`;
      case 18: count('containsAll'); return `${setExpr(d + 1)}.containsAll(${setExpr(d + 1)})`;
      case 19: count('containsAny'); return `${setExpr(d + 1)}.containsAny(${setExpr(d + 1)})`;
      case 20: count('attribute access'); return `${recordExpr(d + 1)}.${r.pick(ATTRS.filter((a) => a !== 'with space'))}`;
      default: return anyExpr(d + 1);
    }
  }

  // --- scope ---
  function prScope(v) {
    switch (r.int(8)) {
      case 0: case 1: case 6: case 7: return v;
      case 2: count('scope =='); return `${v} == ${entityLit()}`;
      case 3: count('scope in'); return `${v} in ${entityLit()}`;
      case 4: count('scope is'); return `${v} is ${r.pick(TYPES)}`;
      default: count('scope is in'); return `${v} is ${r.pick(TYPES)} in ${entityLit()}`;
    }
  }
  function actionScope() {
    switch (r.int(5)) {
      case 0: case 1: return 'action';
      case 2: count('action scope =='); return `action == ${actionRef()}`;
      case 3: count('action scope in'); return `action in ${actionRef()}`;
      default: {
        count('action scope in [..]');
        return `action in [${Array.from({ length: 1 + r.int(3) }, actionRef).join(', ')}]`;
      }
    }
  }
  function policy() {
    const effect = r.chance(0.7) ? 'permit' : 'forbid';
    count(effect);
    let text = r.chance(0.1) ? `@advice(${quote(r.pick(STRINGS))})\n` : '';
    text += `${effect} (${prScope('principal')}, ${actionScope()}, ${prScope('resource')})`;
    const n = r.int(3);
    for (let i = 0; i < n; i++) {
      const kw = r.chance(0.7) ? 'when' : 'unless';
      count(kw);
      text += `\n  ${kw} { ${boolExpr(0)} }`;
    }
    return text + ';';
  }

  const policies = Array.from({ length: 1 + r.int(8) }, policy);
  let text = policies.join('\n');
  let invalid = false;
  if (r.chance(0.04)) { // text that both must refuse
    invalid = true;
    count('invalid text');
    const bad = r.pick([
      () => text.replace(/;$/, ''),
      () => text.replace('(', '( ,'),
      () => `${text}\npermit (principal, action, resource) when { 9223372036854775808 == 1 };`,
      () => `${text}\npermit (principal, action, resource) when { {a: 1, a: 2} == {} };`,
      () => `${text}\npermit (principal, action, resource) when { "\\q" == "" };`,
      () => `${text}\npermit (principal, action, resource) when { 1 < 2 < 3 };`,
      () => `${text}\npermit (principal, action, resource) when { principal.frobnicate() };`,
      () => `${text}\npermit (principal, action == User::"x", resource);`,
      () => `${text}\nforbid (principal, action, resource) when { principal.if };`,
      () => `${text}\npermit (principal, action, resource) when { true } `,
      () => `${text}\npermit (principal, action, resource) when { unknownvar };`,
      () => `${text}\npermit (principal, action, resource) when { -9223372036854775808.contains(1) };`,
    ]);
    text = bad();
  }

  // entities that both must refuse: a cycle in the hierarchy, a duplicate uid,
  // an action whose parent is not an action
  const allEntities = [...entities, ...actionEntities];
  if (!invalid && entities.length > 1 && r.chance(0.02)) {
    invalid = true;
    const kind = r.int(3);
    if (kind === 2) {
      count('action with a non-action parent');
      r.pick(actionEntities).parents.push(refOf(r.pick(uids)));
    } else if (kind === 0) {
      count('entity cycle');
      const last = entities[entities.length - 1];
      last.parents.push(r.chance(0.3) ? last.uid : entities[r.int(entities.length - 1)].uid);
      if (last.parents.at(-1) !== last.uid) // close the loop: the earlier one must reach the last
        allEntities.find((e) => e.uid === last.parents.at(-1)).parents.push(last.uid);
    } else {
      count('duplicate entity');
      allEntities.push({ ...r.pick(entities), attrs: {} });
    }
  }

  // --- requests ---
  function contextValue() {
    const c = {};
    for (const k of CTX_KEYS) {
      if (!r.chance(0.6)) continue;
      if (k === 'n' || k === 'hour') c[k] = r.chance(0.9) ? r.int(24) : r.pick([3037000500, -7, 4611686018427387904]);
      else if (k === 'flag') c[k] = r.chance(0.5);
      else if (k === 'who') c[k] = { __entity: refOf(anyUid()) };
      else if (k === 'list') c[k] = Array.from({ length: r.int(4) }, () => r.pick([() => r.pick(STRINGS), () => r.int(5), () => ({ __entity: refOf(anyUid()) })])());
      else if (k === 'label') c[k] = r.pick(STRINGS);
      else c[k] = value(1);
    }
    return c;
  }
  const requests = Array.from({ length: 1 + r.int(4) }, () => ({
    principal: refOf(anyUid()),
    action: { type: 'Action', id: r.pick([...ACTIONS, ...ACTION_GROUPS]) },
    resource: refOf(anyUid()),
    context: contextValue(),
  }));
  return { policies: text, entities: allEntities, requests, invalid };
}
