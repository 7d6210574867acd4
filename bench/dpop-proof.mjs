// DPoP proofs (RFC 9449) of one fresh P-256 key, each with its own jti, for
// the benchmark's generators. Node's built-in crypto only.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** A function (htm, htu, extra claims) -> a compact proof, all of one key. */
export function proofMaker() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  return (htm, htu, extra = {}) => {
    const input = `${header}.${b64({ jti: randomBytes(12).toString('base64url'), htm, htu,
      iat: Math.floor(Date.now() / 1000), ...extra })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
}
