// A TCP proxy that makes loopback look like a slow link: every chunk waits `oneWayMs` in each
// direction, and each direction is one shared link of `bitsPerSecond`, so parallel downloads
// compete as they would on a real line. Chromium's network emulation cannot do this for
// WebSocket frames (it delays only the handshake), hence a proxy.
import { createServer, connect } from 'node:net';

/**
 * @param {{host: string, port: number, oneWayMs: number, bitsPerSecond: number}} options
 * @returns {Promise<{port: number, bytesDown: () => number, stop: () => Promise<void>}>}
 */
export async function startDelayProxy({ host, port, oneWayMs, bitsPerSecond }) {
  const bytesPerMs = bitsPerSecond / 8 / 1000;
  // When each direction's link is next free, in performance.now() milliseconds.
  const free = { down: 0, up: 0 };
  const sockets = new Set();
  let down = 0; // bytes delivered towards the browser

  /** Forwards src → dst through one direction of the link, keeping the order of chunks. */
  const pipe = (src, dst, dir) => {
    src.on('data', (chunk) => {
      const now = performance.now();
      free[dir] = Math.max(free[dir], now) + chunk.length / bytesPerMs;
      const due = free[dir] + oneWayMs;
      // Due times only grow, and Node runs timers of equal or later due times in order.
      setTimeout(() => {
        if (dir === 'down') down += chunk.length;
        if (!dst.destroyed) dst.write(chunk);
      }, due - now);
    });
    src.on('end', () => {
      const wait = Math.max(free[dir], performance.now()) + oneWayMs - performance.now();
      setTimeout(() => dst.end(), wait);
    });
  };

  const server = createServer((client) => {
    const upstream = connect({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => {}); // a reset on one side closes the pair
    }
    pipe(client, upstream, 'up');
    pipe(upstream, client, 'down');
  });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  return {
    port: server.address().port,
    bytesDown: () => down,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
