// A DPoP-bound access token and fresh DPoP proofs (RFC 9449) for
// bench/forward_auth.lua: prints the token; writes THREADS files OUT.<n> of
// N proofs each (one a line, each with its own jti, ath of the token).
// Node's built-in crypto only (bench/dpop-proof.mjs).
// usage: node gen-dpop.mjs SERVER_URL BASIC RESOURCE HTU THREADS N OUT
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { proofMaker } from './dpop-proof.mjs';

const [url, basic, resource, htu, threads, n, out] = process.argv.slice(2);
const proof = proofMaker();

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
