// A minimal XMPP client for browser tests: a real client of the real server (Prosody's c2s port,
// plain TCP on loopback, SASL PLAIN, which testenv/prosody.cfg.lua allows there), standing for a
// contact's phone or another device of the account. Unlike an engine it sends exactly the stanzas
// a test writes (a receipt, a marker, a chat state, an error reply, a presence) and nothing by
// itself, so a test decides what the engine under test receives and when.
// componentClient is the same for an XEP-0114 component (many room occupants on one socket).
import { createHash } from 'node:crypto';
import { connect } from 'node:net';

/** Escapes text for XML character data and attribute values. */
export function xmlEscape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

/**
 * Connects, authenticates and binds `resource`; sends no presence until told to.
 * @param {{env: Object<string,string>, domain: string}} server from startProsody
 * @param {{jid: string, password: string}} user
 * @param {{resource?: string, timeout?: number}} [options]
 * @returns {Promise<{jid: string, send: (xml: string) => void, waitFor: (re: RegExp, ms?: number) => Promise<string>, close: () => Promise<void>}>}
 *   jid: the bound full JID; waitFor resolves with the first match in what the server sent since
 *   connecting (each piece of input is matched once: a later waitFor looks past it)
 */
export async function nativeClient(server, user, { resource = 'native', timeout = 10_000 } = {}) {
  const port = Number(server.env.PROSODY_C2S_PORT);
  if (!port) throw new Error('nativeClient: the server has no PROSODY_C2S_PORT');
  const socket = connect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  let input = '';
  /** Everything before this offset has been matched already. */
  let seen = 0;
  let closed = null;
  const waiters = new Set();
  const check = () => {
    for (const w of waiters) w();
  };
  socket.on('data', (chunk) => {
    input += chunk;
    check();
  });
  socket.on('error', (err) => {
    closed = err;
    check();
  });
  socket.on('close', () => {
    closed ??= new Error('connection closed');
    check();
  });
  const waitFor = (re, ms = timeout) =>
    new Promise((resolve, reject) => {
      const w = () => {
        const m = re.exec(input.slice(seen));
        if (m) {
          seen += m.index + m[0].length;
          waiters.delete(w);
          clearTimeout(timer);
          resolve(m[0]);
        } else if (closed) {
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`${user.jid}: ${closed.message} while waiting for ${re}; got: ${input.slice(seen, seen + 500)}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${user.jid}: no ${re} within ${ms} ms; got: ${input.slice(seen, seen + 500)}`));
      }, ms);
      waiters.add(w);
      w();
    });
  const send = (xml) => socket.write(xml);
  const open = () =>
    send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${xmlEscape(server.domain)}' version='1.0'>`);

  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  try {
    open();
    await waitFor(/<\/stream:features>/);
    const [local] = user.jid.split('@');
    send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${user.password}`).toString('base64')}</auth>`);
    const auth = await waitFor(/<success[^>]*(\/>|>[^]*?<\/success>)|<failure[^]*?<\/failure>/);
    if (!auth.startsWith('<success')) throw new Error(`SASL refused: ${auth}`);
    open(); // a new stream after SASL (RFC 6120 §6.4.6)
    await waitFor(/<\/stream:features>/);
    send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${xmlEscape(resource)}</resource></bind></iq>`);
    const bound = await waitFor(/<jid>([^<]+)<\/jid>/);
    const jid = bound.slice('<jid>'.length, -'</jid>'.length);
    return {
      jid,
      send,
      waitFor,
      async close() {
        if (!socket.destroyed) {
          send('</stream:stream>');
          socket.end();
          await new Promise((r) => setTimeout(r, 100));
          socket.destroy();
        }
      },
    };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * A component connection (XEP-0114) to Prosody's push.<domain> component of the test config,
 * for filling a room quickly: one socket speaks for any number of occupants (bots
 * `<name>@push.<domain>/b`) instead of one login each. Whatever the server sends is dropped,
 * except the answers that sync() waits for.
 * @param {{env: Object<string,string>, domain: string}} server from startProsody
 * @returns {Promise<{domain: string, send: (xml: string) => void, sync: (room: string) => Promise<void>, close: () => void}>}
 *   sync resolves once the room handled everything sent before it (a room handles one
 *   sender's stanzas in order, so its answer to a disco#info query comes after the rest)
 */
export async function componentClient(server) {
  const port = Number(server.env.PROSODY_COMPONENT_PORT);
  if (!port) throw new Error('componentClient: the server has no PROSODY_COMPONENT_PORT');
  const domain = `push.${server.domain}`;
  const secret = server.env.PROSODY_COMPONENT_SECRET || 'push-secret';
  const socket = connect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let head = '';
  /** Pending sync ids → resolve; matched against a short tail, as the input is dropped. */
  const syncs = new Map();
  let tail = '';
  let failed = null;
  const handshake = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      if (head !== null) {
        head += chunk;
        const id = /<stream:stream[^>]*\bid=['"]([^'"]+)['"]/.exec(head)?.[1];
        if (id && !head.includes('<handshake')) {
          socket.write(`<handshake>${createHash('sha1').update(id + secret).digest('hex')}</handshake>`);
        }
        if (/<handshake\s*\/>|<handshake><\/handshake>/.test(head)) {
          head = null;
          resolve();
        } else if (/<stream:error/.test(head)) reject(new Error(`component refused: ${head}`));
        return;
      }
      const text = tail + chunk;
      for (const [id, done] of syncs) {
        if (text.includes(`id='${id}'`) || text.includes(`id="${id}"`)) {
          syncs.delete(id);
          done();
        }
      }
      tail = text.slice(-200);
    });
    socket.on('error', (err) => {
      failed = err;
      reject(err);
    });
  });
  socket.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${xmlEscape(domain)}'>`);
  await handshake;
  let n = 0;
  return {
    domain,
    send: (xml) => socket.write(xml),
    sync(room) {
      if (failed) return Promise.reject(failed);
      const id = `sync-${++n}`;
      const done = new Promise((resolve) => syncs.set(id, resolve));
      socket.write(`<iq type='get' id='${id}' from='sync@${domain}/b' to='${xmlEscape(room)}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      return done;
    },
    close: () => socket.destroy(),
  };
}
