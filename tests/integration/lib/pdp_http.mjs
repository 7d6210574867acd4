// The HTTP side shared by the test PDPs (authzen_server.mjs, opa_server.mjs):
// a server on loopback that reads a JSON body and answers as its behaviour
// says — normally, never (a PDP that hangs), with a malformed body, or with
// another status — counting the calls it got.
import http from 'node:http';

/**
 * startJsonServer(path, answer) -> {url, calls, bodies, behave(mode), close()}
 * answer(body) -> the JSON answer of a normal call. Modes: 'normal',
 * 'hang' (the answer never comes), 'malformed' (not JSON), 'empty' ({}),
 * 'redirect' (307 to itself), 'status:<n>', 'slow:<ms>' (normal, later).
 */
export async function startJsonServer(path, answer) {
  const state = { mode: 'normal', calls: 0, bodies: [], hanging: new Set() };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      state.calls += 1;
      let body;
      try { body = JSON.parse(raw); } catch { body = raw; }
      state.bodies.push({ body, contentType: req.headers['content-type'] });
      const mode = state.mode;
      if (mode === 'hang') {
        state.hanging.add(res);
        res.on('close', () => state.hanging.delete(res));
        return;
      }
      if (mode === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"evaluations": [tru');
        return;
      }
      if (mode === 'empty') { // what OPA answers for an undefined document
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (mode === 'redirect') { // to itself: never to be followed
        res.writeHead(307, { location: req.url }).end();
        return;
      }
      if (mode.startsWith('status:')) {
        res.writeHead(Number(mode.slice(7)), { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const reply = () => res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(answer(body)));
      if (mode.startsWith('slow:')) setTimeout(reply, Number(mode.slice(5)));
      else reply();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() { return state.calls; },
    get bodies() { return state.bodies; },
    behave(mode) { state.mode = mode; },
    async close() {
      for (const res of state.hanging) res.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
