// Writes N private_key_jwt client assertions (RFC 7523), one per line, each
// with its own jti, for bench/lines.lua. Node's built-in crypto only.
// usage: node gen-assertions.mjs KEY.pem CLIENT_ID AUDIENCE N OUT
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';

const [keyFile, clientId, aud, n, out] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = b64({ alg: 'ES256', typ: 'JWT', kid: 'bench' });
const now = Math.floor(Date.now() / 1000);
const stream = createWriteStream(out);
for (let i = 0; i < Number(n); i++) {
  const payload = b64({ iss: clientId, sub: clientId, aud, iat: now, exp: now + 240,
    jti: randomBytes(12).toString('base64url') });
  const input = `${header}.${payload}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  stream.write(`${input}.${sig.toString('base64url')}\n`);
}
stream.end();
