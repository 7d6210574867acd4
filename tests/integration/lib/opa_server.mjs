// An Open Policy Agent data API for tests: POST /v1/data/mandate/token with
// {"input": {"evaluations": [...]}} answered {"result": [...]}, one item per
// evaluation, as decide(evaluation) says (a boolean, or {"decision",
// "reasons"}), the way a Rego rule over input.evaluations would.
import { startJsonServer } from './pdp_http.mjs';

export const OPA_PATH = '/v1/data/mandate/token';

/** startOpaServer(decide) -> {url (the data API document's URL), calls, bodies, behave, close}. */
export async function startOpaServer(decide) {
  const s = await startJsonServer(OPA_PATH, (body) => ({
    decision_id: 'test',
    result: body.input.evaluations.map(decide),
  }));
  return Object.defineProperties({}, {
    url: { get: () => `${s.url}${OPA_PATH}` },
    calls: { get: () => s.calls },
    bodies: { get: () => s.bodies },
    behave: { value: (m) => s.behave(m) },
    close: { value: () => s.close() },
  });
}
