// <sparkweb-rooms>: the account's group chats: bookmarks (XEP-0402) and joined rooms, invitations,
// joining a room by address, browsing the server's rooms and creating one.
//
// Each room is a button; arrow keys, Home and End move between them, Enter, Space or a click
// selects one and dispatches `sparkweb-select` (bubbles, composed, detail {jid, kind: "room"}), as
// <sparkweb-roster> does for contacts. Next to it: join or leave, "join at sign-in" (the bookmark's
// autojoin) and bookmark or remove; a bookmark keeps the password the room was joined or created
// with here, so autojoin works for it. Joining a room that needs a password asks for it. An address
// typed without "@" is taken as a room name on the server's group chat service. Invitations
// (the engine's "invite" event) are listed with Accept and Dismiss.
// Attributes: `selected` (bare JID) highlights that room; selecting sets it.
// Properties: `strings` (per-element text overrides, keys "rooms.*", see i18n.js).
// Parts: section, heading, list, room, room-selected, name, state, button, autojoin, invites,
// invite, join-form, browse, create-form, field, label, input, results, result, filter, status,
// error, empty.
import { bareJID, themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';
import { roomErrorText } from './sparkweb-room.js';

defineStrings({
  'rooms.title': 'Rooms',
  'rooms.empty': 'No rooms yet: join one below.',
  'rooms.offline': 'Sign in to see your rooms.',
  'rooms.loading': 'Loading rooms…',
  'rooms.state.joined': 'Joined',
  'rooms.state.joining': 'Joining…',
  'rooms.state.left': 'Not joined',
  'rooms.state.error': 'Could not join',
  'rooms.join': 'Join',
  'rooms.leave': 'Leave',
  'rooms.autojoin': 'Join at sign-in',
  'rooms.bookmark': 'Bookmark',
  'rooms.unbookmark': 'Remove bookmark',
  'rooms.invites': 'Invitations',
  'rooms.invite.text': '{from} invites you to {room}',
  'rooms.invite.accept': 'Accept',
  'rooms.invite.dismiss': 'Dismiss',
  'rooms.join.title': 'Join a room',
  'rooms.join.address': 'Room address',
  'rooms.join.nick': 'Nickname',
  'rooms.join.password': 'Password',
  'rooms.join.submit': 'Join',
  'rooms.join.passwordNeeded': 'This room needs a password.',
  'rooms.browse.title': 'Find rooms',
  'rooms.browse.button': 'Browse rooms',
  'rooms.browse.filter': 'Filter rooms',
  'rooms.browse.none': 'No rooms found.',
  'rooms.browse.count': '{count} rooms on {service}',
  'rooms.create.title': 'Create a room',
  'rooms.create.address': 'Room address',
  'rooms.create.name': 'Name',
  'rooms.create.description': 'Description',
  'rooms.create.password': 'Password (optional)',
  'rooms.create.public': 'Listed publicly',
  'rooms.create.persistent': 'Keep when empty',
  'rooms.create.membersOnly': 'Members only',
  'rooms.create.moderated': 'Moderated',
  'rooms.create.submit': 'Create',
  'rooms.working': 'Working…',
  'rooms.failed': '{error}',
  'rooms.noService': 'This server has no group chat service.',
});

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: block; background: var(--_bg); }
section { margin-bottom: 1rem; }
h3 { margin: 0 0 .35rem; font-size: .75rem; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: var(--_muted); }
ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.room { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem .5rem; padding: .2rem; border-radius: var(--_radius); }
.select {
  flex: 1 1 8rem; min-width: 0; display: flex; flex-direction: column; align-items: flex-start; text-align: start;
  padding: .35rem .5rem; border: 0; border-radius: var(--_radius); background: transparent; cursor: pointer;
}
.select:hover { background: var(--_hover); }
.select[aria-current="true"] { background: var(--_accent); color: var(--_accent-fg); }
.select[aria-current="true"] .state { color: inherit; opacity: .85; }
.name { max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.state { font-size: .75rem; color: var(--_muted); }
.tools { display: flex; align-items: center; gap: .4rem; font-size: .8rem; }
button.small, .form button, .browse button {
  padding: .3rem .7rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: transparent; color: var(--_accent); cursor: pointer;
}
.form button[type="submit"] { background: var(--_accent); color: var(--_accent-fg); }
:disabled { opacity: .6; cursor: not-allowed; }
details { margin-top: .5rem; }
summary { cursor: pointer; font-weight: 600; padding: .2rem 0; }
.form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-top: .4rem; }
.field { display: flex; flex-direction: column; gap: .15rem; flex: 1 1 10rem; }
.field label { font-size: .8rem; color: var(--_muted); }
.check { display: flex; align-items: center; gap: .3rem; font-size: .85rem; }
input[type="text"], input[type="password"], input[type="search"], input:not([type]) {
  padding: .4rem .55rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg);
}
.results { margin-top: .4rem; max-height: 16rem; overflow-y: auto; }
.result { display: flex; align-items: center; gap: .5rem; padding: .2rem 0; }
.result .what { flex: 1; min-width: 0; display: flex; flex-direction: column; }
.result .jid { font-size: .75rem; color: var(--_muted); overflow-wrap: anywhere; }
.invite { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; padding: .3rem; border: 1px solid var(--_border); border-radius: var(--_radius); }
.invite p { margin: 0; flex: 1 1 10rem; overflow-wrap: anywhere; }
.status { color: var(--_muted); margin: .3rem 0 0; font-size: .85rem; }
.error { color: var(--_error); margin: .3rem 0 0; font-size: .85rem; }
.status:empty, .error:empty, .empty:empty { display: none; }
.empty { color: var(--_muted); margin: 0; }
</style>
<section part="section invites" class="invites-section" hidden>
  <h3 part="heading" id="invites-title"></h3>
  <ul part="list" class="invites" aria-labelledby="invites-title"></ul>
</section>
<section part="section">
  <h3 part="heading" id="rooms-title"></h3>
  <ul part="list" class="rooms" aria-labelledby="rooms-title"></ul>
  <p class="empty" part="empty"></p>
</section>
<details class="join" open>
  <summary class="join-title"></summary>
  <form class="form join-form" part="join-form" novalidate>
    <div class="field" part="field"><label part="label" for="join-room" class="l-join-room"></label>
      <input part="input" id="join-room" name="room" autocapitalize="none" spellcheck="false" required></div>
    <div class="field" part="field"><label part="label" for="join-nick" class="l-join-nick"></label>
      <input part="input" id="join-nick" name="nick" autocapitalize="none" spellcheck="false" required></div>
    <div class="field password-field" part="field" hidden><label part="label" for="join-password" class="l-join-password"></label>
      <input part="input" id="join-password" name="password" type="password" autocomplete="off"></div>
    <button part="button" type="submit" class="join-submit"></button>
  </form>
</details>
<details class="browse" part="browse">
  <summary class="browse-title"></summary>
  <div class="form">
    <button part="button" type="button" class="browse-button"></button>
    <div class="field" part="field"><label part="label" for="filter" class="l-filter"></label>
      <input part="input filter" id="filter" type="search" autocapitalize="none" spellcheck="false"></div>
  </div>
  <p class="status browse-status" part="status" role="status"></p>
  <ul class="results" part="results"></ul>
</details>
<details class="create">
  <summary class="create-title"></summary>
  <form class="form create-form" part="create-form" novalidate>
    <div class="field" part="field"><label part="label" for="create-room" class="l-create-room"></label>
      <input part="input" id="create-room" name="room" autocapitalize="none" spellcheck="false" required></div>
    <div class="field" part="field"><label part="label" for="create-name" class="l-create-name"></label>
      <input part="input" id="create-name" name="name"></div>
    <div class="field" part="field"><label part="label" for="create-description" class="l-create-description"></label>
      <input part="input" id="create-description" name="description"></div>
    <div class="field" part="field"><label part="label" for="create-password" class="l-create-password"></label>
      <input part="input" id="create-password" name="password" type="password" autocomplete="new-password"></div>
    <label class="check"><input type="checkbox" name="public" checked><span class="l-create-public"></span></label>
    <label class="check"><input type="checkbox" name="persistent" checked><span class="l-create-persistent"></span></label>
    <label class="check"><input type="checkbox" name="membersOnly"><span class="l-create-membersOnly"></span></label>
    <label class="check"><input type="checkbox" name="moderated"><span class="l-create-moderated"></span></label>
    <button part="button" type="submit" class="create-submit"></button>
  </form>
</details>
<p class="status" part="status" role="status"></p>
<p class="error" part="error" role="alert"></p>
`;

/** The account's rooms and the ways to find, join and create one. */
export class SparkWebRooms extends SparkWebElement {
  static observedAttributes = ['selected'];

  #els;
  /** Rooms found by browsing: {service, rooms: [{jid, name}]} or null. */
  #found = null;
  /** The server's group chat service, once known. */
  #service = '';
  /** Passwords of rooms joined or created from this element, so bookmarking keeps them. */
  #passwords = new Map();
  /** Invitations not yet accepted or dismissed, newest last. */
  #invites = [];
  #busy = false;

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      invitesSection: $('.invites-section'),
      invites: $('.invites'),
      rooms: $('.rooms'),
      empty: $('.empty'),
      joinForm: $('.join-form'),
      passwordField: $('.password-field'),
      browseButton: $('.browse-button'),
      filter: $('#filter'),
      browseStatus: $('.browse-status'),
      results: $('.results'),
      createForm: $('.create-form'),
      status: $('.status:not(.browse-status)'),
      error: $('.error'),
    };
    const els = this.#els;
    els.rooms.addEventListener('click', (e) => this.#onRoomClick(e));
    els.rooms.addEventListener('change', (e) => {
      const box = e.target.closest('input[data-autojoin]');
      if (box) this.#setAutojoin(box.dataset.autojoin, box.checked);
    });
    els.rooms.addEventListener('keydown', (e) => this.#onKey(e));
    els.invites.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-invite]');
      if (!b) return;
      const invite = this.#invites[Number(b.dataset.invite)];
      this.#invites = this.#invites.filter((x) => x !== invite);
      this.#renderInvites();
      if (b.dataset.action === 'accept' && invite) this.#join(invite.room, '', invite.password);
    });
    els.joinForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const data = new FormData(els.joinForm);
      this.#join(String(data.get('room')), String(data.get('nick')), String(data.get('password') ?? ''));
    });
    els.createForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#create();
    });
    els.browseButton.addEventListener('click', () => this.#browse());
    els.filter.addEventListener('input', () => this.#renderResults());
    els.results.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-jid]');
      if (b) this.#join(b.dataset.jid, '', '');
    });
  }

  /** The selected room's bare JID, or "". */
  get selected() {
    return this.getAttribute('selected') ?? '';
  }

  set selected(jid) {
    if (jid) this.setAttribute('selected', jid);
    else this.removeAttribute('selected');
  }

  attributeChangedCallback() {
    this.#renderRooms();
  }

  connectFailed(err) {
    this.#els.error.textContent = err.message;
  }

  subscribe(client) {
    const render = () => this.#renderRooms();
    return [
      ...['session', 'room', 'bookmarks', 'snapshot'].map((ev) => client.on(ev, render)),
      client.on('invite', (invite) => {
        this.#invites = [...this.#invites.filter((x) => x.room !== invite.room), invite];
        this.#renderInvites();
      }),
    ];
  }

  render() {
    const set = (sel, key) => (this.$(sel).textContent = this.text(key));
    set('#rooms-title', 'rooms.title');
    set('#invites-title', 'rooms.invites');
    set('.join-title', 'rooms.join.title');
    set('.l-join-room', 'rooms.join.address');
    set('.l-join-nick', 'rooms.join.nick');
    set('.l-join-password', 'rooms.join.password');
    set('.join-submit', 'rooms.join.submit');
    set('.browse-title', 'rooms.browse.title');
    set('.browse-button', 'rooms.browse.button');
    set('.l-filter', 'rooms.browse.filter');
    set('.create-title', 'rooms.create.title');
    for (const k of ['room', 'name', 'description', 'password', 'public', 'persistent', 'membersOnly', 'moderated']) {
      set(`.l-create-${k}`, k === 'room' ? 'rooms.create.address' : `rooms.create.${k}`);
    }
    set('.create-submit', 'rooms.create.submit');
    this.#renderRooms();
    this.#renderInvites();
    this.#renderResults();
  }

  /** Bookmarked rooms and rooms we are in, by name. */
  #entries() {
    const state = this.client?.state;
    const byJID = new Map();
    for (const b of state?.bookmarks ?? []) byJID.set(b.jid, { jid: b.jid, bookmark: b, room: null });
    for (const r of state?.rooms ?? []) {
      const e = byJID.get(r.jid);
      if (e) e.room = r;
      else if (r.state !== 'left') byJID.set(r.jid, { jid: r.jid, bookmark: null, room: r });
    }
    const label = (e) => e.room?.name || e.bookmark?.name || e.jid;
    return [...byJID.values()].sort((a, b) => label(a).localeCompare(label(b), undefined, { sensitivity: 'base' }));
  }

  #renderRooms() {
    const { rooms, empty } = this.#els;
    const state = this.client?.state;
    const online = state?.session.state === 'online';
    const focused = this.shadowRoot.activeElement;
    const focusKey = focused?.closest?.('li')?.dataset.jid ? `${focused.closest('li').dataset.jid}\n${focused.className}` : '';
    const entries = this.#entries();
    const frag = document.createDocumentFragment();
    for (const e of entries) {
      const li = document.createElement('li');
      li.className = 'room';
      li.dataset.jid = e.jid;
      const selected = e.jid === this.selected;
      li.setAttribute('part', selected ? 'room room-selected' : 'room');
      const select = document.createElement('button');
      select.type = 'button';
      select.className = 'select';
      select.dataset.jid = e.jid;
      select.tabIndex = -1;
      select.setAttribute('aria-current', String(selected));
      const name = document.createElement('span');
      name.className = 'name';
      name.setAttribute('part', 'name');
      name.textContent = e.room?.name || e.bookmark?.name || e.jid;
      select.title = e.jid;
      const roomState = e.room?.state ?? 'left';
      const st = document.createElement('span');
      st.className = 'state';
      st.setAttribute('part', 'state');
      st.textContent = this.text(`rooms.state.${roomState}`);
      if (e.room?.error && roomState !== 'joined') st.textContent += ` — ${roomErrorText(e.room.error, this.strings)}`;
      select.append(name, st);

      const tools = document.createElement('span');
      tools.className = 'tools';
      const inRoom = roomState === 'joined' || roomState === 'joining';
      tools.append(this.#button(inRoom ? 'leave' : 'join', this.text(inRoom ? 'rooms.leave' : 'rooms.join'), !online));
      if (e.bookmark) {
        const label = document.createElement('label');
        label.className = 'check';
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.className = 'autojoin';
        box.setAttribute('part', 'autojoin');
        box.dataset.autojoin = e.jid;
        box.checked = !!e.bookmark.autojoin;
        box.disabled = !online;
        label.append(box, this.text('rooms.autojoin'));
        tools.append(label);
      }
      tools.append(this.#button(e.bookmark ? 'unbookmark' : 'bookmark', this.text(e.bookmark ? 'rooms.unbookmark' : 'rooms.bookmark'), !online));
      li.append(select, tools);
      frag.append(li);
    }
    rooms.replaceChildren(frag);
    empty.textContent = !this.client
      ? this.text('rooms.loading')
      : entries.length
        ? ''
        : online
          ? this.text('rooms.empty')
          : this.text('rooms.offline');
    const selects = [...rooms.querySelectorAll('button.select')];
    const keep = selects.find((b) => b.dataset.jid === this.selected) ?? selects[0];
    if (keep) keep.tabIndex = 0;
    if (focusKey) {
      const [jid, cls] = focusKey.split('\n');
      const li = [...rooms.children].find((x) => x.dataset.jid === jid);
      const again = li?.querySelector(`.${cls.split(' ').join('.')}`) ?? li?.querySelector('button.select');
      again?.focus();
    }
    // The join form's nickname defaults to our account's name.
    const nick = this.$('#join-nick');
    if (!nick.value && state?.session.jid) nick.value = bareJID(state.session.jid).split('@')[0];
    for (const b of this.shadowRoot.querySelectorAll('.join-submit, .create-submit, .browse-button')) b.disabled = !online || this.#busy;
  }

  #button(action, text, disabled) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `small ${action}`;
    b.dataset.action = action;
    b.setAttribute('part', 'button');
    b.textContent = text;
    b.disabled = disabled;
    return b;
  }

  #renderInvites() {
    const { invites, invitesSection } = this.#els;
    invitesSection.hidden = this.#invites.length === 0;
    invites.replaceChildren(
      ...this.#invites.map((inv, i) => {
        const li = document.createElement('li');
        li.className = 'invite';
        li.setAttribute('part', 'invite');
        const p = document.createElement('p');
        // An anonymous room names the inviter by nick: room@service/nick.
        const from = bareJID(inv.from) === inv.room ? inv.from.slice(inv.room.length + 1) : bareJID(inv.from);
        p.textContent = this.text('rooms.invite.text', { from: from || inv.room, room: inv.room });
        if (inv.reason) p.append(` — “${inv.reason}”`);
        const accept = this.#button('accept', this.text('rooms.invite.accept'), false);
        accept.dataset.invite = String(i);
        const dismiss = this.#button('dismiss', this.text('rooms.invite.dismiss'), false);
        dismiss.dataset.invite = String(i);
        li.append(p, accept, dismiss);
        return li;
      }),
    );
  }

  #onRoomClick(e) {
    const b = e.target.closest('button');
    const li = b?.closest('li.room');
    if (!li) return;
    const jid = li.dataset.jid;
    if (b.classList.contains('select')) {
      this.#select(jid);
      return;
    }
    const bookmark = this.client?.state.bookmarks.find((x) => x.jid === jid);
    switch (b.dataset.action) {
      case 'join':
        this.#join(jid, bookmark?.nick ?? '', bookmark?.password ?? '');
        break;
      case 'leave':
        this.#run('muc.leave', { room: jid });
        break;
      case 'bookmark': {
        const room = this.client?.state.rooms.find((r) => r.jid === jid);
        const args = { jid, name: room?.name ?? '', nick: room?.nick ?? '', autojoin: true };
        if (this.#passwords.has(jid)) args.password = this.#passwords.get(jid);
        this.#run('bookmarks.set', args);
        break;
      }
      case 'unbookmark':
        this.#run('bookmarks.remove', { jid });
        break;
    }
  }

  #setAutojoin(jid, autojoin) {
    const b = this.client?.state.bookmarks.find((x) => x.jid === jid);
    if (!b) return;
    const args = { jid, name: b.name, nick: b.nick, autojoin };
    if (b.password) args.password = b.password;
    this.#run('bookmarks.set', args);
  }

  #select(jid) {
    this.selected = jid;
    this.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail: { jid, kind: 'room' } }));
  }

  #onKey(e) {
    if (!e.target.classList?.contains('select')) return;
    const selects = [...this.#els.rooms.querySelectorAll('button.select')];
    const i = selects.indexOf(e.target);
    const target = { ArrowDown: selects[Math.min(i + 1, selects.length - 1)], ArrowUp: selects[Math.max(i - 1, 0)], Home: selects[0], End: selects.at(-1) }[e.key];
    if (!target) return;
    e.preventDefault();
    for (const s of selects) s.tabIndex = s === target ? 0 : -1;
    target.focus();
  }

  /**
   * Runs one op with the status line and error display.
   * @returns {Promise<{result?: any, error?: {code: string, message: string}}>}
   */
  async #run(op, args) {
    const { status, error } = this.#els;
    if (!this.client) return { error: { code: 'not-connected', message: '' } };
    error.textContent = '';
    status.textContent = this.text('rooms.working');
    this.#busy = true;
    this.#renderRooms();
    try {
      return { result: await this.client.request(op, args) };
    } catch (err) {
      error.textContent = this.text('rooms.failed', { error: roomErrorText(err, this.strings) });
      return { error: err };
    } finally {
      status.textContent = '';
      this.#busy = false;
      this.#renderRooms();
    }
  }

  /** A room address from what was typed: a bare name goes on the server's group chat service. */
  async #address(typed) {
    const jid = bareJID(typed.trim()).toLowerCase();
    if (!jid || jid.includes('@')) return jid;
    if (!this.#service) {
      const found = await this.client.request('muc.rooms', {}).catch(() => null);
      this.#service = found?.service ?? '';
    }
    if (!this.#service) throw Object.assign(new Error(this.text('rooms.noService')), { code: 'item-not-found' });
    return `${jid}@${this.#service}`;
  }

  async #join(typed, nick, password) {
    const { joinForm, passwordField, error } = this.#els;
    let room;
    try {
      room = await this.#address(typed);
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    if (!room) return;
    const own = bareJID(this.client?.state.session.jid ?? '').split('@')[0];
    const args = { room, nick: nick.trim() || joinForm.elements.nick.value.trim() || own };
    if (password) args.password = password;
    const { error: err } = await this.#run('muc.join', args);
    if (err) {
      if (err.code === 'not-authorized') {
        // Ask for the password in the join form, with the room filled in.
        joinForm.closest('details').open = true;
        joinForm.elements.room.value = room;
        joinForm.elements.nick.value = args.nick;
        passwordField.hidden = false;
        error.textContent = this.text('rooms.join.passwordNeeded');
        joinForm.elements.password.focus();
      }
      return;
    }
    if (password) this.#passwords.set(room, password);
    passwordField.hidden = true;
    joinForm.elements.password.value = '';
    joinForm.elements.room.value = '';
    this.#select(room);
  }

  async #browse() {
    const { browseStatus } = this.#els;
    browseStatus.textContent = this.text('rooms.working');
    const { result, error } = await this.#run('muc.rooms', {});
    if (error) {
      browseStatus.textContent = '';
      return;
    }
    this.#found = result;
    this.#service = result?.service || this.#service;
    this.#renderResults();
    this.#els.filter.focus();
  }

  #renderResults() {
    const { results, browseStatus, filter } = this.#els;
    if (!this.#found) {
      results.replaceChildren();
      return;
    }
    const q = filter.value.trim().toLowerCase();
    const rooms = (this.#found.rooms ?? []).filter((r) => !q || r.jid.toLowerCase().includes(q) || (r.name ?? '').toLowerCase().includes(q));
    browseStatus.textContent = rooms.length
      ? this.text('rooms.browse.count', { count: rooms.length, service: this.#found.service })
      : this.text('rooms.browse.none');
    results.replaceChildren(
      ...rooms.map((r) => {
        const li = document.createElement('li');
        li.className = 'result';
        li.setAttribute('part', 'result');
        const what = document.createElement('span');
        what.className = 'what';
        const name = document.createElement('span');
        name.textContent = r.name || r.jid;
        const jid = document.createElement('span');
        jid.className = 'jid';
        jid.textContent = r.jid;
        what.append(name, jid);
        const join = this.#button('join', this.text('rooms.join'), false);
        join.dataset.jid = r.jid;
        join.setAttribute('aria-label', `${this.text('rooms.join')} ${r.name || r.jid}`);
        li.append(what, join);
        return li;
      }),
    );
  }

  async #create() {
    const form = this.#els.createForm;
    const data = new FormData(form);
    let room;
    try {
      room = await this.#address(String(data.get('room')));
    } catch (err) {
      this.#els.error.textContent = err.message;
      return;
    }
    if (!room) return;
    const config = {
      public: data.get('public') === 'on',
      persistent: data.get('persistent') === 'on',
      membersOnly: data.get('membersOnly') === 'on',
      moderated: data.get('moderated') === 'on',
    };
    for (const k of ['name', 'description', 'password']) {
      const v = String(data.get(k) ?? '').trim();
      if (v) config[k] = v;
    }
    const own = bareJID(this.client?.state.session.jid ?? '').split('@')[0];
    const nick = this.#els.joinForm.elements.nick.value.trim() || own;
    if ((await this.#run('muc.create', { room, nick, config })).error) return;
    if (config.password) this.#passwords.set(room, config.password);
    form.reset();
    this.#select(room);
  }
}

if (!customElements.get('sparkweb-rooms')) customElements.define('sparkweb-rooms', SparkWebRooms);
