// <sparkweb-app>: a complete client made of the other elements. Signed out it shows
// <sparkweb-login>; signed in, a header (own presence, notifications, profile, account), the
// connection banner, and two panes: contacts and rooms on one side, the open conversation
// (<sparkweb-chat>, <sparkweb-room>) or the profile on the other. Below 44rem of width one pane
// shows at a time, with a "Back" button (or Escape) from the conversation to the list.
//
// The parts are ordinary elements in the app's light DOM, placed into named slots, so the page
// can style them, find them with querySelector, or provide its own: a child with the slot name
// already present (e.g. <sparkweb-roster slot="roster" hidden-groups>) is used instead of a new one.
// Slots: status, presence, notifications, account (the login while signed in), signin (the login
// while signed out), roster, rooms, chat, room, profile. <sparkweb-room>, <sparkweb-rooms> and
// <sparkweb-profile> are used when their modules load; the app works without them.
//
// The open conversation is kept in the address: #chat=<bare JID>, #room=<bare JID> or #profile,
// so a reload, a bookmark or a clicked notification (the service worker opens /#chat=<jid>, or
// posts {type: "open-chat", jid} to an open tab) lands there.
//
// Attributes: `heading` (the title, default from the string app.heading), `domain` (passed to
// <sparkweb-login>), `no-service-worker` (do not register static/sw.js: no offline start, no push).
// Properties: `strings` (this element's texts by key); `view` (read-only: {type, jid}, type one of
// "", "chat", "room", "profile"). Methods: open(type, jid), close().
// Events: `sparkweb-open` (bubbles, composed; detail {type, jid}) when the open view changes.
// Parts: app, header, heading, profile-button, signin, signin-heading, panes, sidebar, main, back,
// placeholder.
// Strings: app.heading, app.signin, app.sidebar, app.main, app.back, app.profile,
// app.placeholder.
import { registerServiceWorker, themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';
import './sparkweb-login.js';
import './sparkweb-status.js';
import './sparkweb-presence.js';
import './sparkweb-notifications.js';
import './sparkweb-roster.js';
import './sparkweb-chat.js';

defineStrings({
  'app.heading': 'SparkWeb',
  'app.signin': 'Sign in',
  'app.sidebar': 'Contacts and rooms',
  'app.main': 'Conversation',
  'app.back': 'Back',
  'app.profile': 'Profile',
  'app.placeholder': 'Pick a contact to start a conversation.',
});

/** Elements other engineers' modules define; each loads on its own, a missing one is skipped. */
const OPTIONAL = [
  { tag: 'sparkweb-rooms', slot: 'rooms', module: './sparkweb-rooms.js' },
  { tag: 'sparkweb-room', slot: 'room', module: './sparkweb-room.js' },
  { tag: 'sparkweb-profile', slot: 'profile', module: './sparkweb-profile.js' },
];

const BARE_JID = /^[^@/\s]+@[^@/\s]+$|^[^@/\s]+\.[^@/\s]+$/;
/** A room occupant's JID (room@service/nick): private messages through the room. */
const OCCUPANT_JID = /^[^@/\s]+@[^@/\s]+\/\S.*$/;

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host {
  display: block; container-type: inline-size; min-height: 100%;
  background: var(--_bg);
}
.app { display: flex; flex-direction: column; min-height: inherit; height: 100%; }
header {
  display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem;
  padding: .6rem 1rem; border-bottom: 1px solid var(--_border);
}
h1 { margin: 0; font-size: 1.15rem; }
.tools { flex: 1 1 16rem; display: flex; align-items: center; gap: .5rem 1rem; flex-wrap: wrap; justify-content: flex-end; }
.tools ::slotted([slot="presence"]) { margin-inline-end: auto; }
.tools ::slotted([slot="notifications"]) { margin-inline-start: auto; }
button {
  padding: .4rem .9rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: transparent; color: var(--_accent); cursor: pointer;
}
button[aria-pressed="true"] { background: var(--_accent); color: var(--_accent-fg); }
::slotted([slot="status"][active]) { margin: .5rem 1rem 0; }
.signin { max-width: 36rem; width: 100%; margin: 2rem auto; padding: 0 1rem; }
.signin h2 { font-size: 1.3rem; margin: 0 0 1rem; }
.panes {
  flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(14rem, 20rem) 1fr;
}
.sidebar {
  display: flex; flex-direction: column; gap: 1rem; padding: .75rem; overflow-y: auto;
  border-inline-end: 1px solid var(--_border);
}
main { display: flex; flex-direction: column; min-width: 0; min-height: 24rem; padding: .75rem; gap: .5rem; }
main:focus { outline: none; }
main ::slotted(*) { flex: 1; min-height: 0; }
.placeholder { margin: auto; color: var(--_muted); text-align: center; }
.back { display: none; align-self: flex-start; }
.app:not([data-signed-in]) .signed-in, .app[data-signed-in] .signin { display: none; }
@container (max-width: 44rem) {
  .tools { flex-basis: 100%; justify-content: flex-start; }
  .panes { grid-template-columns: 1fr; }
  .sidebar { border-inline-end: 0; }
  .app[data-pane="list"] main, .app[data-pane="main"] .sidebar { display: none; }
  .app[data-pane="main"] .back { display: inline-block; }
}
</style>
<div class="app" part="app">
  <header part="header">
    <h1 part="heading"></h1>
    <div class="tools">
      <slot name="presence" class="signed-in"></slot>
      <slot name="notifications"></slot>
      <button class="profile signed-in" part="profile-button" type="button" aria-pressed="false" hidden></button>
      <slot name="account"></slot>
    </div>
  </header>
  <slot name="status"></slot>
  <section class="signin" part="signin" aria-labelledby="signin-heading">
    <h2 id="signin-heading" part="signin-heading"></h2>
    <slot name="signin"></slot>
  </section>
  <div class="panes signed-in" part="panes">
    <section class="sidebar" part="sidebar" id="sidebar">
      <slot name="roster"></slot>
      <slot name="rooms"></slot>
    </section>
    <main part="main" id="main" tabindex="-1">
      <button class="back" part="back" type="button"></button>
      <slot name="chat" hidden></slot>
      <slot name="room" hidden></slot>
      <slot name="profile" hidden></slot>
      <p class="placeholder" part="placeholder"></p>
    </main>
  </div>
</div>
`;

/** A complete SparkWeb client in one element. */
export class SparkWebApp extends SparkWebElement {
  static observedAttributes = ['heading', 'domain'];

  #els;
  #view = { type: '', jid: '' };
  /** Which pane shows when there is room for one only: "list" or "main". */
  #pane = 'list';
  #built = false;
  #onHash = () => this.#openFromAddress();
  #onServiceWorkerMessage = (e) => {
    if (e.data?.type === 'open-chat') this.open('chat', e.data.jid);
  };

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      app: $('.app'),
      heading: $('h1'),
      profile: $('.profile'),
      signinHeading: $('#signin-heading'),
      sidebar: $('.sidebar'),
      main: $('main'),
      back: $('.back'),
      placeholder: $('.placeholder'),
      slots: Object.fromEntries([...this.shadowRoot.querySelectorAll('slot')].map((s) => [s.name, s])),
    };
    this.#els.back.addEventListener('click', () => this.#showList());
    this.#els.profile.addEventListener('click', () => {
      if (this.#view.type === 'profile') this.close();
      else this.open('profile', '');
    });
    this.#els.main.addEventListener('keydown', (e) => {
      // Escape leaves the conversation for the list where only one pane fits; elements inside
      // that use Escape themselves (cancel an edit) stop it first.
      if (e.key === 'Escape' && !e.defaultPrevented && this.#narrow()) {
        e.preventDefault();
        this.#showList();
      }
    });
    this.addEventListener('sparkweb-select', (e) => this.#onSelect(e));
    this.addEventListener('sparkweb-leave', (e) => {
      if (this.#view.type === 'room' && e.detail?.jid === this.#view.jid) this.close();
    });
  }

  /** What the conversation pane shows: {type: "" | "chat" | "room" | "profile", jid}. */
  get view() {
    return { ...this.#view };
  }

  attributeChangedCallback(name) {
    if (name === 'domain') this.#child('sparkweb-login')?.setAttribute('domain', this.getAttribute('domain') ?? '');
    this.render();
  }

  connectedCallback() {
    this.#build();
    window.addEventListener('hashchange', this.#onHash);
    if ('serviceWorker' in navigator) navigator.serviceWorker.addEventListener('message', this.#onServiceWorkerMessage);
    this.#openFromAddress();
    // Without a client, <sparkweb-login> shows why SparkWeb cannot start.
    super.connectedCallback();
    if (!this.hasAttribute('no-service-worker')) {
      // Offline start and notifications are a bonus: the client works without them.
      registerServiceWorker().catch((err) => console.warn('sparkweb-app: service worker not registered:', err));
    }
  }

  subscribe(client) {
    return [client.on('session', () => this.render()), client.on('snapshot', () => this.render())];
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.#onHash);
    if ('serviceWorker' in navigator) navigator.serviceWorker.removeEventListener('message', this.#onServiceWorkerMessage);
  }

  /**
   * Opens a conversation ("chat" or "room", with its bare JID; a chat also with a room occupant's
   * room@service/nick) or the profile ("profile").
   * An invalid JID or an element that is not available is ignored.
   * @param {'chat'|'room'|'profile'} type
   * @param {string} [jid]
   */
  open(type, jid = '') {
    if (type === 'profile') jid = '';
    else if (typeof jid !== 'string' || !(BARE_JID.test(jid) || (type === 'chat' && OCCUPANT_JID.test(jid)))) return;
    const el = this.#element(type);
    if (!el) return;
    if (type === 'chat') el.setAttribute('with', jid);
    if (type === 'room') el.setAttribute('room', jid);
    this.#setView({ type, jid });
    this.#pane = 'main';
    this.render();
    if (this.#narrow()) this.#els.main.focus();
  }

  /** Closes the open conversation or profile. */
  close() {
    this.#setView({ type: '', jid: '' });
    this.#showList();
  }

  /** Creates the parts the page did not provide, once. */
  #build() {
    if (this.#built) return;
    this.#built = true;
    this.#ensure('sparkweb-status', 'status');
    this.#ensure('sparkweb-presence', 'presence');
    this.#ensure('sparkweb-notifications', 'notifications');
    const login = this.#ensure('sparkweb-login', 'signin');
    login.setAttribute('no-status', ''); // <sparkweb-presence> is the status picker here
    if (this.hasAttribute('domain')) login.setAttribute('domain', this.getAttribute('domain'));
    this.#ensure('sparkweb-roster', 'roster');
    this.#ensure('sparkweb-chat', 'chat');
    for (const { tag, slot, module } of OPTIONAL) {
      import(module).then(
        () => {
          if (!customElements.get(tag)) return;
          this.#ensure(tag, slot);
          this.#openFromAddress(); // a #room=... that waited for its element
          this.render();
        },
        () => {}, // not part of this build: the app works without it
      );
    }
  }

  /** The child in slot, or a new element tag put there. */
  #ensure(tag, slot) {
    let el = this.#child(tag) ?? this.querySelector(`:scope > [slot="${slot}"]`);
    if (!el) {
      el = document.createElement(tag);
      this.append(el);
    }
    el.slot = slot;
    return el;
  }

  #child(tag) {
    return this.querySelector(`:scope > ${tag}`);
  }

  /** The element that shows a view type, if the app has it. */
  #element(type) {
    const tag = { chat: 'sparkweb-chat', room: 'sparkweb-room', profile: 'sparkweb-profile' }[type];
    const el = tag && this.querySelector(`:scope > [slot="${type}"]`);
    return el && customElements.get(el.localName) ? el : null;
  }

  #onSelect(e) {
    const jid = e.detail?.jid;
    if (typeof jid !== 'string') return;
    const from = e.target;
    // <sparkweb-rooms> says {jid, kind: "room"}; the slot decides for a page's own room list.
    const isRoom = e.detail?.kind === 'room' || from?.slot === 'rooms' || from?.localName === 'sparkweb-rooms';
    this.open(isRoom ? 'room' : 'chat', jid);
  }

  /** Records the view in the address without a history entry per click. */
  #setView(view) {
    const changed = view.type !== this.#view.type || view.jid !== this.#view.jid;
    this.#view = view;
    const url = new URL(location.href);
    url.hash = view.type === '' ? '' : view.type === 'profile' ? 'profile' : `${view.type}=${encodeURIComponent(view.jid).replace(/%40/g, '@')}`;
    if (url.href !== location.href) history.replaceState(history.state, '', url.hash ? url : url.href.replace(/#$/, ''));
    if (changed) this.dispatchEvent(new CustomEvent('sparkweb-open', { bubbles: true, composed: true, detail: { ...view } }));
  }

  /** Opens what the address names (#chat=, #room=, #profile); anything else is left alone. */
  #openFromAddress() {
    const hash = location.hash.slice(1);
    if (hash === 'profile') {
      if (this.#view.type !== 'profile') this.open('profile');
      return;
    }
    const params = new URLSearchParams(hash.replace(/\+/g, '%2B'));
    for (const type of ['chat', 'room']) {
      const jid = params.get(type);
      if (jid && (this.#view.type !== type || this.#view.jid !== jid)) this.open(type, jid);
    }
  }

  #narrow() {
    // The same width as the container query: rem is the root element's font size.
    return this.getBoundingClientRect().width < 44 * (parseFloat(getComputedStyle(document.documentElement).fontSize) || 16);
  }

  #showList() {
    this.#pane = 'list';
    this.render();
    if (this.#narrow()) {
      // Back where the user came from: the selected contact, else the list.
      const roster = this.#child('sparkweb-roster');
      const current = roster?.shadowRoot?.querySelector('[aria-current="true"], [tabindex="0"]');
      (current ?? this.#els.sidebar).focus?.();
    }
  }

  render() {
    const els = this.#els;
    const session = this.client?.state.session ?? { state: 'offline', jid: '' };
    // Reconnecting keeps the signed-in view: the engine gets the session back by itself.
    const signedIn = session.state === 'online' || session.state === 'reconnecting';
    els.app.toggleAttribute('data-signed-in', signedIn);
    els.app.dataset.pane = this.#view.type ? this.#pane : 'list';
    els.heading.textContent = this.getAttribute('heading') || this.text('app.heading');
    els.signinHeading.textContent = this.text('app.signin');
    els.sidebar.setAttribute('aria-label', this.text('app.sidebar'));
    els.main.setAttribute('aria-label', this.text('app.main'));
    els.back.textContent = this.text('app.back');
    els.placeholder.textContent = this.text('app.placeholder');
    const login = this.#child('sparkweb-login');
    if (login) login.slot = signedIn ? 'account' : 'signin';

    const hasProfile = !!this.#element('profile');
    els.profile.hidden = !hasProfile;
    els.profile.textContent = this.text('app.profile');
    els.profile.setAttribute('aria-pressed', String(this.#view.type === 'profile'));

    const type = this.#view.type;
    for (const name of ['chat', 'room', 'profile']) els.slots[name].hidden = type !== name || !this.#element(name);
    els.placeholder.hidden = !!type && !!this.#element(type);
    const roster = this.#child('sparkweb-roster');
    if (roster) {
      if (type === 'chat') roster.setAttribute('selected', this.#view.jid);
      else roster.removeAttribute('selected');
    }
  }
}

if (!customElements.get('sparkweb-app')) customElements.define('sparkweb-app', SparkWebApp);
