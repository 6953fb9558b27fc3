// <sparkweb-login>: sign-in form, then the signed-in account with a status select and "Sign out".
// When the relay allows sign-up (account.registerForm answers: GET /api/register), the form also
// offers "Create account": the same form with a password confirmation, which registers the
// account (account.register) and then signs in with it.
//
// Attributes: `domain` (optional) is appended to an address typed without "@"; `no-status` hides
// the status select (for pages that have a <sparkweb-presence>); `no-register` never offers sign-up.
// Properties: `strings` (this element's texts by key).
// Events: sparkweb-account-created {jid} once a new account exists (before it signs in).
// Parts: form, field, label, input, button, toggle, error, account, jid, status, progress.
// Strings: login.address, login.addressPlaceholder, login.password, login.submit, login.signingIn,
// login.signedInAs, login.status, login.show.available, login.show.away, login.show.dnd,
// login.show.xa, login.signOut, login.reconnecting, login.starting, login.error.notAuthorized,
// login.error.unreachable, login.error.conflict, login.error.failed, login.error.badAddress,
// login.error.noPassword, login.error.notReady, login.register, login.registerSubmit,
// login.registering, login.haveAccount, login.confirmPassword, login.error.mismatch,
// login.error.taken, login.error.registerNotAllowed, login.error.registerRefused,
// login.error.tooMany.
// It reflects the session of every tab: signing in or out in one tab updates all of them.
import { bareJID, themeCSS } from './sparkweb.js';
import { defineStrings, t } from './i18n.js';
import { SparkWebElement } from './element.js';

defineStrings({
  'login.address': 'Address',
  'login.addressPlaceholder': 'you@example.org',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.signingIn': 'Signing in…',
  'login.signedInAs': 'Signed in as {jid}',
  'login.status': 'Status',
  'login.show.available': 'Available',
  'login.show.away': 'Away',
  'login.show.dnd': 'Do not disturb',
  'login.show.xa': 'Extended away',
  'login.signOut': 'Sign out',
  'login.reconnecting': 'Reconnecting…',
  'login.starting': 'Starting…',
  'login.error.notAuthorized': 'Wrong username or password.',
  'login.error.unreachable': 'Server unreachable.',
  'login.error.conflict': 'Already signed in or signing in.',
  'login.error.failed': 'Sign-in failed.',
  'login.error.badAddress': 'Enter your address as name@server.',
  'login.error.noPassword': 'Enter your password.',
  'login.error.notReady': 'SparkWeb is still starting; try again in a moment.',
  'login.register': 'Create account',
  'login.registerSubmit': 'Create account',
  'login.registering': 'Creating account…',
  'login.haveAccount': 'I have an account',
  'login.confirmPassword': 'Confirm password',
  'login.error.mismatch': 'The passwords do not match.',
  'login.error.taken': 'That name is taken. Choose another one.',
  'login.error.registerNotAllowed': 'This server does not allow creating accounts here.',
  'login.error.registerRefused': 'The server refused this name or password.',
  'login.error.tooMany': 'Too many attempts. Try again later.',
});

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: block; }
form, .account { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: end; }
.field { display: flex; flex-direction: column; gap: .2rem; min-width: 12rem; flex: 1 1 12rem; }
label { font-size: .85rem; color: var(--_muted); }
input, select {
  padding: .45rem .6rem; border: 1px solid var(--_border); border-radius: var(--_radius);
  background: var(--_bg);
}
button {
  padding: .45rem 1rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: var(--_accent); color: var(--_accent-fg); cursor: pointer;
}
button.secondary { background: transparent; color: var(--_accent); }
button[hidden] { display: none; }
button:disabled { opacity: .6; cursor: progress; }
.account { align-items: center; }
.account .status { display: flex; align-items: center; gap: .4rem; }
.account p { margin: 0; }
.jid { font-weight: 600; overflow-wrap: anywhere; }
.error { color: var(--_error); margin: .4rem 0 0; min-height: 1lh; }
.error:empty { min-height: 0; margin: 0; }
.progress { color: var(--_muted); margin: .4rem 0 0; }
.progress:empty { margin: 0; }
</style>
<form part="form" novalidate>
  <div class="field" part="field">
    <label part="label" for="jid"></label>
    <input part="input" id="jid" name="jid" type="text" autocomplete="username" inputmode="email"
      autocapitalize="none" spellcheck="false" required>
  </div>
  <div class="field" part="field">
    <label part="label" for="password"></label>
    <input part="input" id="password" name="password" type="password" autocomplete="current-password" required>
  </div>
  <div class="field confirm" part="field">
    <label part="label" for="confirm"></label>
    <input part="input" id="confirm" name="confirm" type="password" autocomplete="new-password">
  </div>
  <button part="button" type="submit"></button>
  <button part="toggle" class="secondary toggle" type="button" hidden></button>
</form>
<div class="account" part="account" hidden>
  <p class="who"></p>
  <span class="status">
    <label part="label" for="show"></label>
    <select part="status" id="show">
      <option value="available"></option>
      <option value="away"></option>
      <option value="dnd"></option>
      <option value="xa"></option>
    </select>
  </span>
  <button part="button" class="secondary logout" type="button"></button>
</div>
<p class="progress" part="progress" role="status"></p>
<p class="error" part="error" role="alert"></p>
`;

/**
 * The message shown for an error value, by its stable code; `key` errors are the element's own.
 * @param {{code?: string, message?: string, key?: string}|null} err
 * @param {Record<string, string>|null} [strings] an element's own texts
 */
export function loginErrorText(err, strings) {
  if (err?.key) return t(err.key, null, strings);
  switch (err?.code) {
    case 'not-authorized':
      return t('login.error.notAuthorized', null, strings);
    case 'server-unreachable':
      return t('login.error.unreachable', null, strings);
    case 'conflict':
      return t('login.error.conflict', null, strings);
    default:
      return err?.message || err?.code || t('login.error.failed', null, strings);
  }
}

/**
 * The message shown for an error of account.register, by its stable code.
 * @param {{code?: string, message?: string, key?: string}|null} err
 * @param {Record<string, string>|null} [strings] an element's own texts
 */
export function registerErrorText(err, strings) {
  const key = {
    conflict: 'login.error.taken',
    'not-allowed': 'login.error.registerNotAllowed',
    'not-acceptable': 'login.error.registerRefused',
    'resource-constraint': 'login.error.tooMany',
  }[err?.code];
  return key && !err.key ? t(key, null, strings) : loginErrorText(err, strings);
}

/** Sign-in form and account controls for the shared SparkWeb session. */
export class SparkWebLogin extends SparkWebElement {
  static observedAttributes = ['no-status', 'no-register'];

  #busy = false;
  #els;
  /** The error shown, kept so that new strings can render it again. */
  #error = null;
  /** Whether the error came from account.register (its codes read differently). */
  #registerError = false;
  /** null until the relay said whether it allows sign-up; then true or false. */
  #canRegister = null;
  /** The form creates an account instead of signing in. */
  #registering = false;
  /** account.registerForm is on its way. */
  #checking = false;

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      form: $('form'),
      jid: $('#jid'),
      password: $('#password'),
      submit: $('form button[type="submit"]'),
      confirmBox: $('.confirm'),
      confirm: $('#confirm'),
      toggle: $('.toggle'),
      confirmLabel: $('label[for="confirm"]'),
      account: $('.account'),
      who: $('.who'),
      statusBox: $('.status'),
      show: $('#show'),
      logout: $('.logout'),
      progress: $('.progress'),
      error: $('.error'),
    };
    this.#els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.#registering) this.#register();
      else this.#login();
    });
    // In the form only while creating an account: signing in has one password field.
    this.#els.confirmBox.remove();
    this.#els.toggle.addEventListener('click', () => {
      this.#registering = !this.#registering;
      this.#showError(null);
      this.render();
      this.#els.jid.focus();
    });
    this.#els.logout.addEventListener('click', () => this.#logout());
    this.#els.show.addEventListener('change', () => this.#setShow());
  }

  attributeChangedCallback() {
    this.render();
  }

  connectFailed(err) {
    this.#showError(err);
  }

  subscribe(client) {
    return [
      client.on('session', (s) => {
        if (s.error) this.#showError(s.error);
        else if (s.state === 'online' || s.state === 'connecting') this.#showError(null);
        this.render();
      }),
      client.on('snapshot', () => this.render()),
      client.on('presence', (p) => {
        // Our own status changed, maybe from another tab: keep the select truthful.
        if (p.jid === client.state.session.jid && p.show !== 'unavailable') this.#els.show.value = p.show;
      }),
    ];
  }

  /**
   * Asks the relay once, when the form is first shown, whether it allows sign-up (each question
   * costs the relay a stream to the XMPP server); any refusal or failure means it does not.
   */
  async #checkRegister() {
    if (this.#canRegister !== null || this.#checking || this.hasAttribute('no-register')) return;
    const client = this.client;
    this.#checking = true;
    try {
      await client.request('account.registerForm');
      this.#canRegister = true;
    } catch {
      this.#canRegister = false;
    } finally {
      this.#checking = false;
    }
    if (this.client === client) this.render();
  }

  /** The typed address and password if they will do, else null with the error shown. */
  #credentials() {
    const els = this.#els;
    let jid = els.jid.value.trim();
    const password = els.password.value;
    const domain = this.getAttribute('domain');
    if (jid && !jid.includes('@') && domain) jid = `${jid}@${domain}`;
    if (!/^[^@/\s]+@[^@/\s]+$/.test(bareJID(jid))) {
      this.#showError({ key: 'login.error.badAddress' });
      els.jid.focus();
      return null;
    }
    if (!password) {
      this.#showError({ key: 'login.error.noPassword' });
      els.password.focus();
      return null;
    }
    if (!this.client) {
      this.#showError({ key: 'login.error.notReady' });
      return null;
    }
    return { jid, password };
  }

  async #login() {
    const els = this.#els;
    const creds = this.#credentials();
    if (!creds) return;
    const { jid, password } = creds;
    this.#busy = true;
    this.#showError(null);
    this.render();
    try {
      await this.client.request('session.login', { jid, password });
      els.password.value = '';
    } catch (err) {
      this.#showError(err);
      els.password.select();
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  /** Creates the account, then signs in with it; the form stays filled if either fails. */
  async #register() {
    const els = this.#els;
    const creds = this.#credentials();
    if (!creds) return;
    if (els.confirm.value !== creds.password) {
      this.#showError({ key: 'login.error.mismatch' });
      els.confirm.select();
      return;
    }
    const jid = bareJID(creds.jid);
    this.#busy = true;
    this.#showError(null);
    this.render();
    try {
      try {
        await this.client.request('account.register', { jid, password: creds.password });
      } catch (err) {
        this.#showError(err, true);
        (err.code === 'conflict' ? els.jid : els.password).select();
        return;
      }
      this.dispatchEvent(new CustomEvent('sparkweb-account-created', { bubbles: true, composed: true, detail: { jid } }));
      this.#registering = false;
      try {
        await this.client.request('session.login', { jid, password: creds.password });
        els.password.value = els.confirm.value = '';
      } catch (err) {
        this.#showError(err);
      }
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  async #logout() {
    try {
      await this.client?.request('session.logout');
    } catch (err) {
      this.#showError(err);
    }
  }

  async #setShow() {
    try {
      await this.client?.request('presence.set', { show: this.#els.show.value });
    } catch (err) {
      this.#showError(err);
    }
  }

  /**
   * Shows an error value (or clears the alert with null). Text only: messages come from the network.
   * @param {object|null} err
   * @param {boolean} [register] the error is account.register's
   */
  #showError(err, register = false) {
    this.#error = err;
    this.#registerError = register;
    const text = !err ? '' : register ? registerErrorText(err, this.strings) : loginErrorText(err, this.strings);
    if (this.#els.error.textContent !== text) this.#els.error.textContent = text;
  }

  /** Puts the current texts into the static parts of the template. */
  #renderStrings() {
    const els = this.#els;
    const root = this.shadowRoot;
    root.querySelector('label[for="jid"]').textContent = this.text('login.address');
    els.jid.placeholder = this.text('login.addressPlaceholder');
    root.querySelector('label[for="password"]').textContent = this.text('login.password');
    els.confirmLabel.textContent = this.text('login.confirmPassword');
    els.toggle.textContent = this.text(this.#registering ? 'login.haveAccount' : 'login.register');
    root.querySelector('label[for="show"]').textContent = this.text('login.status');
    for (const option of els.show.options) option.textContent = this.text(`login.show.${option.value}`);
    els.logout.textContent = this.text('login.signOut');
  }

  render() {
    const els = this.#els;
    const session = this.client?.state.session ?? { state: 'offline', jid: '' };
    // While reconnecting the account stays signed in: the engine gets the session back by itself.
    const reconnecting = session.state === 'reconnecting';
    const online = session.state === 'online' || reconnecting;
    const connecting = this.#busy || session.state === 'connecting';
    const hadFocus = this.shadowRoot.activeElement;
    this.#renderStrings();
    els.form.hidden = online;
    els.account.hidden = !online;
    els.statusBox.hidden = this.hasAttribute('no-status');
    renderSignedInAs(els.who, online ? session.jid : '', this.strings);
    // Sign-up only where the relay allows it, and not while a sign-in is under way.
    const offerRegister = this.#canRegister === true && !this.hasAttribute('no-register');
    if (!offerRegister) this.#registering = false;
    const registering = this.#registering;
    const submitKey = registering ? (connecting ? 'login.registering' : 'login.registerSubmit') : connecting ? 'login.signingIn' : 'login.submit';
    els.submit.disabled = connecting || !this.client;
    els.submit.textContent = this.text(submitKey);
    els.jid.disabled = els.password.disabled = els.confirm.disabled = els.toggle.disabled = connecting;
    if (registering && !els.confirmBox.isConnected) els.submit.before(els.confirmBox);
    else if (!registering && els.confirmBox.isConnected) els.confirmBox.remove();
    els.confirm.required = registering;
    els.password.autocomplete = registering ? 'new-password' : 'current-password';
    els.toggle.hidden = !offerRegister;
    if (!online && this.client) this.#checkRegister();
    const progress = reconnecting
      ? 'login.reconnecting'
      : connecting
        ? registering ? 'login.registering' : 'login.signingIn'
        : !this.client ? 'login.starting' : '';
    const progressText = progress ? this.text(progress) : '';
    if (els.progress.textContent !== progressText) els.progress.textContent = progressText;
    if (this.#error) this.#showError(this.#error, this.#registerError);
    if (online) {
      const own = this.client.state.presence.find((p) => p.jid === session.jid);
      if (own) els.show.value = own.show in { available: 1, away: 1, dnd: 1, xa: 1 } ? own.show : 'available';
    }
    // Keep keyboard users somewhere sensible when the view they were in disappears.
    if (hadFocus && (hadFocus.closest('[hidden]') || hadFocus.disabled)) {
      (online ? els.logout : els.jid.disabled ? null : els.jid)?.focus();
    }
  }
}

/**
 * Fills el with the "Signed in as {jid}" text, the JID in its own <span part="jid"> (as text).
 * @param {HTMLElement} el
 * @param {string} jid
 * @param {Record<string, string>|null} strings
 */
function renderSignedInAs(el, jid, strings) {
  const text = t('login.signedInAs', null, strings);
  if (el.dataset.text === text && el.dataset.jid === jid) return;
  el.dataset.text = text;
  el.dataset.jid = jid;
  const at = text.indexOf('{jid}');
  const span = document.createElement('span');
  span.className = 'jid';
  span.setAttribute('part', 'jid');
  span.textContent = jid;
  if (at < 0) el.replaceChildren(text, ' ', span);
  else el.replaceChildren(text.slice(0, at), span, text.slice(at + '{jid}'.length));
}

if (!customElements.get('sparkweb-login')) customElements.define('sparkweb-login', SparkWebLogin);
