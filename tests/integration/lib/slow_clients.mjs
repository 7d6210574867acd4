// A host holding many slow connections, run as its own process (so that its
// limit of open files can be raised for it alone):
//   node slow_clients.mjs PORT COUNT FROM_ADDRESS
// Opens COUNT connections to 127.0.0.1:PORT from FROM_ADDRESS, sends on each
// the start of a request that never ends, and then stays silent. Every 200 ms
// it prints one JSON line {opened, failed, open, closedByServer, done}. It
// closes everything and exits when its standard input closes or after 90 s.
import net from 'node:net';

const [port, count, from] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const LIFETIME_MS = 90_000;
const BATCH = 200;
const sockets = new Set();
const st = { opened: 0, failed: 0, open: 0, closedByServer: 0, done: false };

function connectOne() {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    let up = false;
    s.on('connect', () => {
      up = true;
      st.opened++;
      st.open++;
      sockets.add(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ');
      resolve();
    });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      if (!up) { st.failed++; resolve(); return; }
      if (sockets.delete(s)) { st.open--; st.closedByServer++; }
    });
  });
}

function shutdown() {
  for (const s of sockets) s.destroy();
  sockets.clear();
  process.exit(0);
}

const report = setInterval(() => process.stdout.write(`${JSON.stringify(st)}\n`), 200);
setTimeout(shutdown, LIFETIME_MS).unref();
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
for (let i = 0; i < count; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, connectOne));
}
st.done = true;
void report;
