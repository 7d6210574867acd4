// A DPoP-bound access token and fresh DPoP proofs (RFC 9449) for
// bench/forward_auth.lua: prints the token; writes THREADS files OUT.<n> of
// N proofs each (one a line, each with its own jti, ath of the token).
// Node's built-in crypto only.
// usage: node gen-dpop.mjs SERVER_URL BASIC RESOURCE HTU THREADS N OUT
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createWriteStream } from 'node:fs';

const [url, basic, resource, htu, threads, n, out] = process.argv.slice(2);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
const proof = (htm, u, extra = {}) => {
  const input = `${header}.${b64({ jti: randomBytes(12).toString('base64url'), htm, htu: u,
    iat: Math.floor(Date.now() / 1000), ...extra })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};

const r = await fetch(`${url}/token`, { method: 'POST', headers: {
  authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded',
  dpop: proof('POST', `${url}/token`) }, body: new URLSearchParams({ grant_type: 'client_credentials',
  scope: 'bench', resource }) });
const body = await r.json();
if (r.status !== 200 || body.token_type !== 'DPoP') {
  console.error(`no DPoP-bound token: ${r.status} ${JSON.stringify(body)}`);
  process.exit(1);
}
const ath = createHash('sha256').update(body.access_token).digest('base64url');
for (let t = 1; t <= Number(threads); t++) {
  const s = createWriteStream(`${out}.${t}`);
  for (let i = 0; i < Number(n); i++) s.write(`${proof('GET', htu, { ath })}\n`);
  await new Promise((done) => s.end(done));
}
console.log(body.access_token);
