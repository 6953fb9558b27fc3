// Serves Converse.js from node_modules, unmodified, the way a site would: brotli or gzip when the
// browser takes it, ETags with Cache-Control: no-cache (as the SparkWeb relay serves its assets),
// and the XMPP server's WebSocket on the same origin at /xmpp-websocket, passed through at the TCP
// level with the Origin header dropped (Prosody refuses cross-origin pages by default; a site
// would configure it, here the pass-through stands in for that).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join, extname, normalize } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
};

/** The page: Converse's documented minimal embedding, pointed at our WebSocket. */
function page() {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Converse.js</title>
<link rel="stylesheet" href="/dist/converse.min.css">
<script type="module" src="/dist/converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<script type="module">
converse.initialize({
  view_mode: 'fullscreen',
  websocket_url: new URL('/xmpp-websocket', location.href).href.replace(/^http/, 'ws'),
  discover_connection_methods: false,
  assets_path: '/dist/',
  play_sounds: false,
  show_client_info: false,
});
</script>
</body>
</html>
`;
}

/**
 * @param {{root: string, prosodyWS: string}} options root: the repository; prosodyWS: ws:// URL
 * @returns {Promise<{url: string, stop: () => Promise<void>}>}
 */
export async function startConverseServer({ root, prosodyWS }) {
  const dist = join(root, 'node_modules', 'converse.js', 'dist');
  const ws = new URL(prosodyWS);
  /** @type {Map<string, {etag: string, type: string, raw: Buffer, br?: Buffer, gz?: Buffer}>} */
  const cache = new Map();
  const load = async (path) => {
    if (cache.has(path)) return cache.get(path);
    let raw;
    if (path === '/' || path === '/index.html') raw = Buffer.from(page());
    else if (path.startsWith('/dist/')) {
      const file = normalize(join(dist, path.slice('/dist/'.length)));
      if (!file.startsWith(dist + '/')) return null;
      raw = await readFile(file).catch(() => null);
    }
    if (!raw) return null;
    const type = types[extname(path)] ?? (path === '/' ? types['.html'] : 'application/octet-stream');
    const entry = { etag: '"' + createHash('sha256').update(raw).digest('base64url').slice(0, 22) + '"', type, raw };
    if (/^(text|application\/(json|wasm))|svg/.test(type)) {
      entry.br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
      entry.gz = gzipSync(raw, { level: 9 });
    }
    cache.set(path, entry);
    return entry;
  };
  const sockets = new Set();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const entry = await load(path);
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers = { 'content-type': entry.type, 'cache-control': 'no-cache', etag: entry.etag, vary: 'Accept-Encoding' };
    if (req.headers['if-none-match'] === entry.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const accept = req.headers['accept-encoding'] ?? '';
    let body = entry.raw;
    if (entry.br && /\bbr\b/.test(accept)) [body, headers['content-encoding']] = [entry.br, 'br'];
    else if (entry.gz && /\bgzip\b/.test(accept)) [body, headers['content-encoding']] = [entry.gz, 'gzip'];
    headers['content-length'] = body.length;
    res.writeHead(200, headers).end(body);
  });
  server.on('upgrade', (req, client, head) => {
    if (new URL(req.url, 'http://x').pathname !== '/xmpp-websocket') {
      client.destroy();
      return;
    }
    const upstream = connect({ host: ws.hostname, port: Number(ws.port) }, () => {
      const lines = [`${req.method} ${ws.pathname} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (name.toLowerCase() === 'origin') continue;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? ws.host : req.rawHeaders[i + 1]}`);
      }
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => {});
    }
  });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
