// RFC 8414 and OpenID Connect discovery, read by oauth4webapi, and checked to
// be truthful: what is advertised works, what is not advertised does not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, createClient } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, createFixtureScopes, discover, get, post, show, tokenBasic,
} from './lib/oauth.mjs';

// Grants Mandate will have one day; none may be advertised before it works.
const OTHER_GRANTS = [
  'implicit', 'password', // refresh_token: refresh_oidc.test.mjs; device_code: device.test.mjs; ciba: ciba.test.mjs
];

describe('discovery', { timeout: 60_000 }, () => {
  let srv;
  let client;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata());
  });
  after(() => srv?.stop());

  for (const [well, algorithm] of [
    ['/.well-known/oauth-authorization-server', 'oauth2'],
    ['/.well-known/openid-configuration', 'oidc'],
  ]) {
    describe(well, () => {
      let as;
      before(async () => { as = await discover(srv, algorithm); });

      it('is served as JSON and names this issuer', async () => {
        const r = await get(srv, well);
        assert.equal(r.status, 200, show(r));
        assert.match(r.headers.get('content-type') || '', /^application\/json/i);
        assert.equal(as.issuer, srv.issuer);
        assert.deepEqual(r.json, JSON.parse(JSON.stringify(as)));
      });

      it('lists the pinned endpoint URLs', () => {
        assert.equal(as.token_endpoint, `${srv.issuer}/token`);
        assert.equal(as.jwks_uri, `${srv.issuer}/jwks`);
        assert.equal(as.introspection_endpoint, `${srv.issuer}/introspect`);
        assert.equal(as.revocation_endpoint, `${srv.issuer}/revoke`);
      });

      it('lists client_credentials and the secret auth methods', () => {
        assert.ok(Array.isArray(as.grant_types_supported), 'grant_types_supported is an array');
        assert.ok(as.grant_types_supported.includes('client_credentials'), JSON.stringify(as.grant_types_supported));
        const methods = as.token_endpoint_auth_methods_supported;
        assert.ok(Array.isArray(methods), 'token_endpoint_auth_methods_supported is an array');
        assert.ok(methods.includes('client_secret_basic'), JSON.stringify(methods));
        assert.ok(methods.includes('client_secret_post'), JSON.stringify(methods));
      });

      it('does not advertise what does not exist yet', () => {
        // the authorization endpoint exists (authorize.test.mjs): code + PKCE S256 + RFC 9207 only
        assert.equal(as.authorization_endpoint, `${srv.issuer}/authorize`);
        assert.deepEqual(as.response_types_supported, ['code']);
        assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
        assert.deepEqual(as.response_modes_supported, ['query', 'form_post']); // form_post.test.mjs
        assert.equal(as.authorization_response_iss_parameter_supported, true);
        assert.equal(as.pushed_authorization_request_endpoint, `${srv.issuer}/par`); // par.test.mjs
        assert.equal(as.require_pushed_authorization_requests, false);
        for (const g of OTHER_GRANTS) {
          assert.ok(!as.grant_types_supported.includes(g), `advertises grant ${g}`);
        }
      });

      it('advertises only grants the token endpoint accepts', async () => {
        for (const g of as.grant_types_supported) {
          const r = await tokenBasic(srv, client, { grant_type: g });
          assert.ok(r.status === 200 || r.json?.error, `advertised ${g}: an OAuth answer: ${show(r)}`);
          assert.notEqual(r.json?.error, 'unsupported_grant_type', `advertised ${g}: ${show(r)}`);
        }
        for (const g of OTHER_GRANTS.filter((x) => !as.grant_types_supported.includes(x))) {
          const r = await tokenBasic(srv, client, { grant_type: g });
          assertOAuthError(r, 400, 'unsupported_grant_type');
        }
      });

      it('advertises only endpoints that exist', async () => {
        for (const [k, v] of Object.entries(as)) {
          if (!k.endsWith('_endpoint') && k !== 'jwks_uri') continue;
          assert.ok(v.startsWith(`${srv.issuer}/`), `${k} ${v} is under the issuer`);
          const path = v.slice(srv.issuer.length);
          const r = k === 'jwks_uri' ? await get(srv, path) : await post(srv, path, {});
          assert.notEqual(r.status, 404, `${k} ${v}: ${show(r)}`);
        }
      });

      it('advertises auth methods for introspection and revocation only if true', () => {
        for (const k of ['introspection_endpoint_auth_methods_supported',
          'revocation_endpoint_auth_methods_supported']) {
          if (as[k] === undefined) continue;
          assert.ok(Array.isArray(as[k]), k);
          for (const m of as[k]) {
            assert.ok(as.token_endpoint_auth_methods_supported.includes(m), `${k} lists ${m}`);
          }
        }
      });
    });
  }

  it('both documents agree', async () => {
    const a = (await get(srv, '/.well-known/oauth-authorization-server')).json;
    const b = (await get(srv, '/.well-known/openid-configuration')).json;
    for (const k of ['issuer', 'token_endpoint', 'jwks_uri', 'introspection_endpoint',
      'revocation_endpoint', 'grant_types_supported', 'token_endpoint_auth_methods_supported']) {
      assert.deepEqual(a[k], b[k], k);
    }
  });

  it('publishes a JWKS with public keys only', async () => {
    const r = await get(srv, '/jwks');
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get('content-type') || '', /^application\/(jwk-set\+)?json/i);
    assert.ok(Array.isArray(r.json.keys) && r.json.keys.length >= 1, show(r));
    for (const k of r.json.keys) {
      assert.equal(typeof k.kid, 'string', 'every key has a kid');
      assert.ok(k.kid.length > 0);
      assert.ok(['EC', 'RSA', 'OKP'].includes(k.kty), `kty ${k.kty}`);
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
        assert.equal(k[priv], undefined, `public JWK ${k.kid} leaks ${priv}`);
      }
    }
    const kids = r.json.keys.map((k) => k.kid);
    assert.equal(new Set(kids).size, kids.length, 'kids are unique');
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await get(srv, '/healthz')).status, 200);
    assert.equal((await get(srv, '/readyz')).status, 200);
  });

  it('answers 404 for an unknown path', async () => {
    const r = await get(srv, '/no-such-endpoint');
    assert.equal(r.status, 404, show(r));
  });
});
