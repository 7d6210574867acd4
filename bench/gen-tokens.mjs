// Writes N access tokens of one client (client_credentials, HTTP Basic),
// one per line, for bench/lines.lua: tokens to introspect once each. Issued
// by the server under test, 32 requests at a time over keep-alive.
// usage: node gen-tokens.mjs URL BASIC N OUT
import http from 'node:http';
import { writeFileSync } from 'node:fs';

const [url, basic, n, out] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const body = 'grant_type=client_credentials';
const one = () => new Promise((resolve, reject) => {
  const req = http.request(`${url}/token`, {
    method: 'POST', agent,
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded',
      'content-length': body.length },
  }, (res) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { s += d; });
    res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(s).access_token)
      : reject(new Error(`token: ${res.statusCode} ${s}`))));
  });
  req.on('error', reject);
  req.end(body);
});
const tokens = [];
let next = 0;
const worker = async () => { while (next < Number(n)) { next++; tokens.push(await one()); } };
await Promise.all(Array.from({ length: 32 }, worker));
writeFileSync(out, `${tokens.join('\n')}\n`);
agent.destroy();
