// Raw HTTP/1.1 over a TCP socket: for requests no HTTP library would send
// (ambiguous framing) and for counting what the server answers on one
// connection. Every socket is bounded in time and closed.
import net from 'node:net';

/**
 * Writes `data` on a new connection to 127.0.0.1:port (from localAddress if
 * given) and collects what comes back until the server closes the connection
 * or `waitMs` pass. -> {text, closed (the server ended it), responses (status
 * lines seen, in order), error}
 */
export function rawExchange(port, data, { waitMs = 2000, localAddress } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    let closed = false;
    let error = null;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed, responses: statuses(text), error });
    };
    const timer = setTimeout(finish, waitMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(Buffer.from(data, 'latin1')));
    sock.on('data', (d) => { text += d; });
    sock.on('end', () => { closed = true; finish(); });
    sock.on('error', (e) => { error = e; closed = true; finish(); });
  });
}

/**
 * The responses in text, read one after the other by their Content-Length:
 * [{status, headers (lower-case names), body}].
 */
export function parseResponses(text) {
  const out = [];
  let pos = 0;
  for (;;) {
    const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text.slice(pos));
    const end = text.indexOf('\r\n\r\n', pos);
    if (!m || end < 0) return out;
    const headers = {};
    for (const l of text.slice(pos, end).split('\r\n').slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(m[1]), headers, body: text.slice(end + 4, end + 4 + len) });
    pos = end + 4 + len;
  }
}

/** The status codes of the responses in text. */
function statuses(text) {
  return parseResponses(text).map((r) => r.status);
}

/** The JSON body of the first response in a raw exchange (null if none). */
export function firstJsonBody(text) {
  const head = text.indexOf('\r\n\r\n');
  if (head < 0) return null;
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head));
  const body = m ? text.slice(head + 4, head + 4 + Number(m[1])) : text.slice(head + 4);
  try { return JSON.parse(body); } catch { return null; }
}
