// Sign-in with a JWT minted by the embedding site, with the relay authenticating the XMPP stream:
// `jwt` upstream mode against ejabberd and `oauthbearer` against Prosody, from a real browser.
// No XMPP password exists in the page, the worker or the engine at any point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  freePort,
  launchBrowser,
  requireEngineBuild,
  signedInJID,
  startEjabberd,
  startProsody,
  startRelay,
} from './harness.mjs';

const ISSUER = 'https://site.example';
const SITE_SECRET = randomBytes(32).toString('hex');

/** An HS256 JWT as the embedding site would mint it for its signed-in user. */
function siteJWT(sub) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: ISSUER,
    aud: 'sparkweb',
    sub,
    exp: Math.floor(Date.now() / 1000) + 300,
  })}`;
  return `${body}.${createHmac('sha256', SITE_SECRET).update(body).digest('base64url')}`;
}

/** Signs in through the page's façade with a site JWT and returns the bound JID. */
async function signInWithSiteJWT(url, assertion) {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    const bound = await page.evaluate(async (assertion) => {
      const { connect } = await import('/webcomponents/sparkweb.js');
      const client = await connect();
      return (await client.request('session.login', { assertion, resource: 'site' })).jid;
    }, assertion);
    // The login element follows the session from the engine, whoever started it.
    const shown = await signedInJID(page);
    return { bound, shown };
  } finally {
    await browser.close();
  }
}

async function withSecretFile(fn) {
  const dir = await mkdtemp(join(tmpdir(), 'sparkweb-secret-'));
  try {
    const file = join(dir, 'site.key');
    await writeFile(file, SITE_SECRET, { mode: 0o600 });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('site JWT sign-in, relay mints ejabberd JWTs (upstream-auth jwt)', async () => {
  requireEngineBuild();
  const ej = await startEjabberd();
  try {
    await withSecretFile(async (siteKey) => {
      const relay = await startRelay({
        upstream: ej.wsURL,
        domain: ej.domain,
        args: ['--upstream-auth', 'jwt', '--jwt-issuer', ISSUER, '--jwt-hmac-secret-file', siteKey],
        env: { SPARKWEB_UPSTREAM_JWT_SECRET: ej.env.EJABBERD_JWT_SECRET },
      });
      try {
        const { bound, shown } = await signInWithSiteJWT(relay.url, siteJWT('alice'));
        assert.equal(bound, 'alice@localhost/site');
        assert.equal(shown, 'alice@localhost/site');
        assert.doesNotMatch(relay.output(), new RegExp(ej.env.EJABBERD_JWT_SECRET), 'a secret reached the log');
      } finally {
        await relay.stop();
      }
    });
  } finally {
    await ej.stop();
  }
});

test('site JWT sign-in, Prosody checks relay bearer tokens (upstream-auth oauthbearer)', async () => {
  requireEngineBuild();
  const internal = await freePort();
  const clientSecret = randomBytes(16).toString('hex');
  const prosody = await startProsody({
    users: false, // mod_auth_oauthbearer knows no passwords
    env: {
      PROSODY_OAUTH_URL: `https://127.0.0.1:${internal}/oauthbearer/{{password}}`,
      PROSODY_OAUTH_CLIENT_SECRET: clientSecret,
    },
  });
  try {
    await withSecretFile(async (siteKey) => {
      const relay = await startRelay({
        upstream: prosody.wsURL,
        domain: prosody.domain,
        args: [
          '--upstream-auth', 'oauthbearer', '--internal-listen', `127.0.0.1:${internal}`,
          '--jwt-issuer', ISSUER, '--jwt-hmac-secret-file', siteKey,
        ],
        env: { SPARKWEB_UPSTREAM_OAUTH_CLIENT_SECRET: clientSecret },
      });
      try {
        const { bound, shown } = await signInWithSiteJWT(relay.url, siteJWT('alice'));
        assert.equal(bound, 'alice@localhost/site');
        assert.equal(shown, 'alice@localhost/site');
      } finally {
        await relay.stop();
      }
    });
  } finally {
    await prosody.stop();
  }
});
