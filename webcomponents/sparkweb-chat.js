// <sparkweb-chat with="bob@example.org">: one conversation, with a composer.
//
// The log shows the conversation the engine already holds plus every new message of it, sent from
// any tab. Enter sends, Shift+Enter starts a new line.
// Attributes: `with` (bare JID of the contact).
// Parts: header, title, presence, log, message, message-in, message-out, message-pending, meta,
// state, body, composer, label, input, button, hint, error.
// An outgoing message the server has not acknowledged yet is marked "Sending…" (data-state="pending")
// until the engine reports it sent.
import { connect, bareJID, bestPresence, showLabels, themeCSS } from './sparkweb.js';

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host {
  display: flex; flex-direction: column; min-height: 16rem; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_bg); overflow: hidden;
}
header { display: flex; align-items: center; gap: .5rem; padding: .6rem .8rem; border-bottom: 1px solid var(--_border); }
h2 { margin: 0; font-size: 1rem; flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.presence { display: inline-flex; align-items: center; gap: .35rem; font-size: .8rem; color: var(--_muted); }
ol {
  flex: 1; overflow-y: auto; margin: 0; padding: .8rem; list-style: none;
  display: flex; flex-direction: column; gap: .4rem; min-height: 8rem;
}
li { max-width: 80%; align-self: flex-start; }
li.out { align-self: flex-end; text-align: end; }
.meta { display: block; font-size: .72rem; color: var(--_muted); margin: 0 .3rem .1rem; }
.body {
  display: inline-block; text-align: start; margin: 0; padding: .4rem .65rem; border-radius: var(--_radius);
  background: var(--_bubble-in); white-space: pre-wrap; overflow-wrap: anywhere;
}
li.out .body { background: var(--_bubble-out); color: var(--_bubble-out-fg); }
li[data-state="pending"] .body { opacity: .7; }
.state { font-style: italic; }
.placeholder { color: var(--_muted); align-self: center; max-width: none; }
form { display: flex; gap: .5rem; align-items: end; padding: .6rem .8rem; border-top: 1px solid var(--_border); }
textarea {
  flex: 1; resize: vertical; min-height: 2.4rem; padding: .45rem .6rem; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_bg);
}
button {
  padding: .45rem 1rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: var(--_accent); color: var(--_accent-fg); cursor: pointer;
}
:disabled { opacity: .6; cursor: not-allowed; }
.hint, .error { margin: 0; padding: 0 .8rem .6rem; font-size: .85rem; }
.hint { color: var(--_muted); }
.error { color: var(--_error); }
.hint:empty, .error:empty { display: none; }
</style>
<header part="header">
  <h2 part="title"></h2>
  <span class="presence" part="presence"><span class="dot" aria-hidden="true"></span><span class="show"></span></span>
</header>
<ol part="log" role="log" aria-live="polite"></ol>
<form part="composer">
  <label part="label" class="visually-hidden" for="input"></label>
  <textarea part="input" id="input" rows="2" aria-describedby="hint"></textarea>
  <button part="button" type="submit">Send</button>
</form>
<p class="hint" part="hint" id="hint"></p>
<p class="error" part="error" role="alert"></p>
`;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** One conversation of the shared SparkWeb session. */
export class SparkWebChat extends HTMLElement {
  static observedAttributes = ['with'];

  #client = null;
  #off = [];
  #els;
  /** Ids of the messages in the log, so a message seen twice (event and state) shows once. */
  #shown = new Set();
  #sending = false;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.append(template.content.cloneNode(true));
    const $ = (sel) => root.querySelector(sel);
    this.#els = {
      title: $('h2'),
      presence: $('header .presence'),
      dot: $('header .dot'),
      show: $('header .show'),
      log: $('ol'),
      form: $('form'),
      label: $('label'),
      input: $('textarea'),
      send: $('form button'),
      hint: $('.hint'),
      error: $('.error'),
    };
    this.#els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#send();
    });
    this.#els.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#send();
      }
    });
  }

  /** The contact's bare JID. */
  get with() {
    return bareJID(this.getAttribute('with') ?? '');
  }

  set with(jid) {
    this.setAttribute('with', jid);
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    this.#els.error.textContent = '';
    this.#renderLog();
    this.#renderHeader();
  }

  async connectedCallback() {
    this.#renderHeader();
    this.#renderLog();
    let client;
    try {
      client = await connect();
    } catch (err) {
      this.#els.error.textContent = `Chat unavailable: ${err.message}`;
      return;
    }
    if (!this.isConnected) return;
    this.#client = client;
    const header = () => this.#renderHeader();
    this.#off = [
      client.on('session', header),
      client.on('roster', header),
      client.on('presence', header),
      client.on('message', (msg) => {
        if (msg.with === this.with) this.#append(msg);
      }),
      // A new engine took over (see sparkweb.js): what it holds replaces what we showed.
      client.on('snapshot', () => {
        this.#renderLog();
        this.#renderHeader();
      }),
    ];
    this.#renderHeader();
    this.#renderLog();
  }

  disconnectedCallback() {
    for (const off of this.#off) off();
    this.#off = [];
    this.#client = null;
  }

  async #send() {
    const { input } = this.#els;
    const body = input.value;
    if (!body.trim() || this.#sending || !this.#client || !this.with) return;
    this.#sending = true;
    this.#els.error.textContent = '';
    this.#renderHeader();
    try {
      await this.#client.request('chat.send', { to: this.with, body });
      // Only clear what was sent: the user may have typed on while it was on its way.
      if (input.value === body) input.value = '';
    } catch (err) {
      this.#els.error.textContent = `Not sent: ${err.message || err.code}`;
    } finally {
      this.#sending = false;
      this.#renderHeader();
      input.focus();
    }
  }

  #renderLog() {
    const { log } = this.#els;
    log.replaceChildren();
    this.#shown.clear();
    const jid = this.with;
    if (!jid) {
      const li = document.createElement('li');
      li.className = 'placeholder';
      li.textContent = 'Choose a contact to start chatting.';
      log.append(li);
      return;
    }
    for (const msg of this.#client?.state.conversations[jid] ?? []) this.#append(msg);
  }

  #append(msg) {
    if (msg.id && this.#shown.has(msg.id)) {
      this.#update(msg);
      return;
    }
    if (msg.id) this.#shown.add(msg.id);
    const { log } = this.#els;
    log.querySelector('.placeholder')?.remove();
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const li = document.createElement('li');
    li.className = msg.outgoing ? 'out' : 'in';
    if (msg.id) li.dataset.id = msg.id;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.setAttribute('part', 'meta');
    const who = document.createElement('span');
    who.textContent = msg.outgoing ? 'You' : this.#contactName();
    const time = document.createElement('time');
    const at = new Date(msg.timestamp);
    if (!Number.isNaN(at.getTime())) {
      time.dateTime = msg.timestamp;
      time.textContent = ` · ${timeFormat.format(at)}`;
    }
    const state = document.createElement('span');
    state.className = 'state';
    state.setAttribute('part', 'state');
    meta.append(who, time, state);
    const body = document.createElement('p');
    body.className = 'body';
    body.setAttribute('part', 'body');
    body.textContent = msg.body;
    li.append(meta, body);
    this.#renderState(li, msg);
    log.append(li);
    if (nearBottom || msg.outgoing) log.scrollTop = log.scrollHeight;
  }

  /** Applies a later version of a message already shown (its delivery state changed). */
  #update(msg) {
    const li = [...this.#els.log.children].find((el) => el.dataset.id === msg.id);
    if (li) this.#renderState(li, msg);
  }

  /** Marks an outgoing message as pending or not, in text (for screen readers too) and styling. */
  #renderState(li, msg) {
    const pending = msg.outgoing && msg.state === 'pending';
    if (msg.outgoing && msg.state) li.dataset.state = msg.state;
    li.setAttribute('part', msg.outgoing ? `message message-out${pending ? ' message-pending' : ''}` : 'message message-in');
    li.querySelector('.state').textContent = pending ? ' · Sending…' : '';
  }

  #contactName() {
    const jid = this.with;
    return this.#client?.state.roster.find((r) => r.jid === jid)?.name || jid;
  }

  #renderHeader() {
    const els = this.#els;
    const jid = this.with;
    const state = this.#client?.state;
    const online = state?.session.state === 'online';
    const name = jid ? this.#contactName() : 'No conversation';
    els.title.textContent = name;
    els.title.title = jid;
    const show = jid && online ? (bestPresence(state.presence, jid)?.show ?? 'unavailable') : 'unavailable';
    els.dot.dataset.show = show;
    els.show.textContent = jid ? showLabels[show] : '';
    els.presence.hidden = !jid;
    els.label.textContent = jid ? `Message to ${name}` : 'Message';
    // While reconnecting the engine keeps what is sent in its outbox and sends it once back.
    const reconnecting = state?.session.state === 'reconnecting';
    const enabled = (online || reconnecting) && !!jid;
    els.input.disabled = !enabled;
    els.send.disabled = !enabled || this.#sending;
    let hint = '';
    if (!this.#client) hint = 'Starting…';
    else if (reconnecting) hint = jid ? 'Reconnecting… messages are sent once back online.' : 'Reconnecting…';
    else if (!online) hint = 'Sign in to send messages.';
    else if (!jid) hint = 'Choose a contact first.';
    els.hint.textContent = hint;
  }
}

if (!customElements.get('sparkweb-chat')) customElements.define('sparkweb-chat', SparkWebChat);
