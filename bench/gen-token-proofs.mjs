// N DPoP proofs of one key for POST URL/token (bench/dpop-proof.mjs), one a
// line, each with its own jti, for bench/lines.lua with
// MANDATE_LINE_HEADER=DPoP: client_credentials tokens bound to that key.
// usage: node gen-token-proofs.mjs URL N OUT
import { createWriteStream } from 'node:fs';
import { proofMaker } from './dpop-proof.mjs';

const [url, n, out] = process.argv.slice(2);
const proof = proofMaker();
const s = createWriteStream(out);
for (let i = 0; i < Number(n); i++) s.write(`${proof('POST', `${url}/token`)}\n`);
await new Promise((done) => s.end(done));
