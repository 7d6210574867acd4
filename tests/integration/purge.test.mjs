// What has expired for good is deleted by the server itself, every
// [storage] purge_interval: an opaque token's row and a revoked token's id
// do not stay in the database after the token expired, so that the tables
// stay bounded under sustained load. Live tokens are not touched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { basic, post } from './lib/oauth.mjs';
import { dbQuery } from './lib/pg.mjs';
import { createClient, sleep, startServer } from './lib/server.mjs';

describe('purge of expired rows', { timeout: 60_000 }, () => {
  let srv;
  let short;
  let long;

  before(async () => {
    srv = await startServer({ config: { storage: { purge_interval: '1s' } } });
    short = createClient(srv, { client_name: 'short', access_token_format: 'opaque', access_token_ttl: 2 });
    long = createClient(srv, { client_name: 'long', access_token_format: 'opaque' });
  });
  after(async () => { await srv?.stop(); });

  const token = async (c) => {
    const r = await post(srv, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(c.client_id, c.client_secret) } });
    assert.equal(r.status, 200, r.text);
    return r.json.access_token;
  };
  const count = (sql) => Number(dbQuery(srv, sql).trim());
  const tokensOf = (c) => count(`SELECT COUNT(*) FROM tokens WHERE client_id='${c.client_id}';`);

  test('an expired opaque token and a revoked id go; a live token stays', async () => {
    await token(short);
    const revokedLater = await token(short);
    const kept = await token(long);
    const rv = await post(srv, '/revoke', { token: revokedLater },
      { headers: { authorization: basic(short.client_id, short.client_secret) } });
    assert.equal(rv.status, 200, rv.text);
    assert.equal(tokensOf(short), 2);
    assert.ok(count('SELECT COUNT(*) FROM revoked_jtis;') >= 1);
    // bounded wait: the tokens expire after 2 s, the purge runs every second
    for (let i = 0; i < 100 && (tokensOf(short) > 0 || count('SELECT COUNT(*) FROM revoked_jtis;') > 0); i++)
      await sleep(100);
    assert.equal(tokensOf(short), 0, 'the expired tokens are deleted');
    assert.equal(count('SELECT COUNT(*) FROM revoked_jtis;'), 0, 'the expired revoked id is deleted');
    assert.equal(tokensOf(long), 1, 'the live token stays');
    const r = await post(srv, '/introspect', { token: kept },
      { headers: { authorization: basic(long.client_id, long.client_secret) } });
    assert.equal(r.json.active, true, r.text);
  });
});
