// <sparkweb-roster>: the contact list, grouped, with presence, avatars and unread counts.
//
// Virtualised: the list is a tree (role="tree") whose rows all have the same height (ROW_HEIGHT
// px); only the rows in view (plus a few either side) are in the DOM, positioned over a spacer as
// tall as the whole list, so 5,000 contacts scroll like 50. Each row carries aria-level,
// aria-setsize and aria-posinset, so a screen reader knows the count without the other rows.
// The list scrolls inside the element: give it a height (it fills its box, and never grows past
// --sparkweb-roster-max-height, default 100vh).
//
// Keyboard: the tree is one tab stop (aria-activedescendant); ArrowUp/ArrowDown, Home/End and
// PageUp/PageDown move, ArrowLeft/ArrowRight collapse and expand a group, Enter or Space selects
// a contact (or toggles a group), typing letters jumps to the next contact whose name starts so.
// Selecting dispatches `sparkweb-select` (bubbles, composed, detail {jid}).
//
// Unread count of a contact: its incoming messages (not retracted) after both the last message
// this account marked displayed in that conversation (XEP-0333, from any tab or client: the
// `displayed` event with outgoing: true; <sparkweb-chat> sends it when the user sees messages)
// and the last message this account sent there (answering means having read). The position is
// kept in localStorage per account, so a reload keeps it.
//
// Also: a filter box (name or address), contact requests with Approve/Deny (the `requests`
// state), "Add contact" (roster.add, then presence.subscribe), and Rename/Remove for the
// selected contact. Avatars come from the engine (`avatars` state, `avatar.get`), shown as
// Blob URLs cached by hash; initials stand in while there is none or the engine has no avatars.
//
// Attributes: `selected` (bare JID) highlights that contact; selecting sets it.
// Strings: "roster.*" keys of i18n.js (or the `strings` property).
// Parts: toolbar, filter, add-button, add-form, input, button, status, requests, request,
// viewport, list, group, group-name, contact, contact-selected, avatar, presence, name, show,
// unread, actions, empty.
// Performance marks: sparkweb-roster:data (first roster data seen), sparkweb-roster:first-render
// (first contacts in the DOM), sparkweb-roster:complete (the whole roster rendered).
import { bestPresence, showLabels, themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';

defineStrings({
  'roster.label': 'Contacts',
  'roster.filter': 'Filter contacts',
  'roster.loading': 'Loading contacts…',
  'roster.empty': 'No contacts yet.',
  'roster.signedOut': 'Sign in to see your contacts.',
  'roster.noMatch': 'No contact matches “{filter}”.',
  'roster.unavailable': 'Contacts unavailable: {error}',
  'roster.defaultGroup': 'Contacts',
  'roster.groupCount': '{count}',
  'roster.pending': '(request pending)',
  'roster.unread': '{count} unread',
  'roster.show.available': showLabels.available,
  'roster.show.chat': showLabels.chat,
  'roster.show.away': showLabels.away,
  'roster.show.xa': showLabels.xa,
  'roster.show.dnd': showLabels.dnd,
  'roster.show.unavailable': showLabels.unavailable,
  'roster.requests': 'Contact requests',
  'roster.request': 'wants to see when you are online',
  'roster.approve': 'Approve',
  'roster.deny': 'Deny',
  'roster.add': 'Add contact',
  'roster.add.jid': 'Address',
  'roster.add.name': 'Name (optional)',
  'roster.add.submit': 'Add',
  'roster.add.cancel': 'Cancel',
  'roster.add.done': 'Asked {jid} to share their presence.',
  'roster.add.invalid': 'Enter an address like name@example.org.',
  'roster.rename': 'Rename',
  'roster.rename.prompt': 'New name for {jid}',
  'roster.remove': 'Remove',
  'roster.remove.confirm': 'Remove {name} from your contacts?',
  'roster.failed': 'Failed: {error}',
});

/** Height of every row in px: the virtualisation computes positions from it. */
export const ROW_HEIGHT = 40;
/** Rows rendered beyond the visible ones on each side, so fast scrolling shows no gap. */
const OVERSCAN = 8;
/** Avatar image types shown; anything else gets initials. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

const style = `
${themeCSS}
:host { display: flex; flex-direction: column; gap: .5rem; min-height: 0; height: 100%; background: var(--_bg); }
.toolbar { display: flex; gap: .4rem; align-items: center; }
input {
  min-width: 0; padding: .4rem .55rem; border: 1px solid var(--_border); border-radius: var(--_radius);
  background: var(--_bg);
}
.toolbar input { flex: 1; }
button {
  padding: .35rem .7rem; border: 1px solid var(--_border); border-radius: var(--_radius);
  background: var(--_bg); cursor: pointer; white-space: nowrap;
}
button:hover { background: var(--_hover); }
button.primary { background: var(--_accent); border-color: var(--_accent); color: var(--_accent-fg); }
form { display: flex; flex-wrap: wrap; gap: .4rem; }
form input { flex: 1 1 10rem; }
.status { margin: 0; font-size: .85rem; color: var(--_muted); }
.status.error { color: var(--_error); }
.status:empty { display: none; }
h3 {
  margin: 0 0 .25rem; font-size: .75rem; font-weight: 600; letter-spacing: .04em;
  text-transform: uppercase; color: var(--_muted);
}
.requests ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .35rem; }
.requests li { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem; }
.requests .who { flex: 1 1 8rem; min-width: 0; overflow-wrap: anywhere; }
.requests .note { flex-basis: 100%; font-size: .8rem; color: var(--_muted); overflow-wrap: anywhere; }
.viewport {
  position: relative; flex: 1 1 auto; min-height: ${ROW_HEIGHT * 3}px; overflow-y: auto;
  max-height: var(--sparkweb-roster-max-height, 100vh); overscroll-behavior: contain;
}
.tree { position: relative; outline: none; contain: strict; }
.row {
  position: absolute; left: 0; right: 0; height: ${ROW_HEIGHT}px; contain: layout paint style; display: flex; align-items: center;
  gap: .5rem; padding: 0 .5rem; border-radius: var(--_radius); cursor: pointer; white-space: nowrap;
}
.row:hover { background: var(--_hover); }
.tree:focus-visible .row.active { outline: 2px solid var(--_focus); outline-offset: -2px; }
.row[aria-level="1"] {
  font-size: .75rem; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: var(--_muted);
}
.row[aria-level="2"] { padding-inline-start: 1rem; }
.row[aria-selected="true"] { background: var(--_accent); color: var(--_accent-fg); }
.row[aria-selected="true"] .show { color: inherit; opacity: .85; }
.chevron { display: inline-block; width: 1em; transition: transform .1s; }
.row[aria-expanded="false"] .chevron { transform: rotate(-90deg); }
.avatar {
  flex: none; width: 28px; height: 28px; border-radius: 50%; overflow: hidden; display: grid;
  place-items: center; font-size: .75rem; font-weight: 600; color: #fff; position: relative;
}
.avatar img { width: 100%; height: 100%; object-fit: cover; }
.avatar .dot { position: absolute; right: -1px; bottom: -1px; border: 2px solid var(--_bg); width: 11px; height: 11px; }
.name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.show { font-size: .8rem; color: var(--_muted); overflow: hidden; text-overflow: ellipsis; max-width: 45%; }
.unread {
  flex: none; min-width: 1.4rem; padding: 0 .4rem; border-radius: 999px; text-align: center;
  font-size: .75rem; font-weight: 600; background: var(--_accent); color: var(--_accent-fg);
}
.row[aria-selected="true"] .unread { background: var(--_accent-fg); color: var(--_accent); }
.count { font-weight: 400; }
.empty { color: var(--_muted); margin: 0; }
.actions { display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; font-size: .85rem; }
.actions .who { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--_muted); }
`;

const template = document.createElement('template');
template.innerHTML = `
<style>${style}</style>
<div class="toolbar" part="toolbar">
  <input type="search" part="filter input" autocomplete="off">
  <button type="button" part="add-button button" aria-expanded="false" aria-controls="add"></button>
</div>
<form id="add" part="add-form" novalidate hidden>
  <input name="jid" part="input" inputmode="email" autocomplete="off">
  <input name="name" part="input" autocomplete="off">
  <button type="submit" class="primary" part="button"></button>
  <button type="button" class="cancel" part="button"></button>
</form>
<p class="status" part="status" role="status"></p>
<section class="requests" part="requests" aria-labelledby="requests-title" hidden>
  <h3 id="requests-title"></h3>
  <ul></ul>
</section>
<p class="empty" part="empty"></p>
<div class="viewport" part="viewport">
  <div class="tree" part="list" role="tree" tabindex="0"></div>
</div>
<div class="actions" part="actions" hidden>
  <span class="who"></span>
  <button type="button" class="rename" part="button"></button>
  <button type="button" class="remove" part="button"></button>
</div>
`;

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

/** Contact list of the shared SparkWeb session. */
export class SparkWebRoster extends SparkWebElement {
  static observedAttributes = ['selected'];

  #els;
  /** The flattened list: group headers and the contacts of expanded groups. */
  #rows = [];
  /** Set when the roster, filter, collapsed groups or strings changed: #rows must be rebuilt. */
  #dirty = true;
  #frame = 0;
  /** Groups the user collapsed, by name. */
  #collapsed = new Set();
  /** Key of the active row (aria-activedescendant): "g\n<group>" or "c\n<group>\n<jid>". */
  #activeKey = '';
  /** Rendered row elements by key. */
  #rowEls = new Map();
  /** Avatar Blob URLs by hash: a string once loaded, a promise while loading, null if none. */
  #avatars = new Map();
  /** Read positions {id, ts} by bare JID (see the header), and the account they belong to. */
  #read = new Map();
  #readAccount = '';
  #typed = '';
  #typedAt = 0;
  #marks = { data: false, render: false, complete: false };
  #rosterComplete = false;

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      filter: $('input[type="search"]'),
      addButton: $('.toolbar button'),
      form: $('form'),
      jid: $('form input[name="jid"]'),
      name: $('form input[name="name"]'),
      submit: $('form button[type="submit"]'),
      cancel: $('form .cancel'),
      status: $('.status'),
      requests: $('.requests'),
      requestsTitle: $('.requests h3'),
      requestList: $('.requests ul'),
      empty: $('.empty'),
      viewport: $('.viewport'),
      tree: $('.tree'),
      actions: $('.actions'),
      who: $('.actions .who'),
      rename: $('.actions .rename'),
      remove: $('.actions .remove'),
    };
    const els = this.#els;
    els.viewport.addEventListener('scroll', () => this.#schedule(), { passive: true });
    els.tree.addEventListener('click', (e) => {
      const row = e.target.closest('.row');
      if (row) this.#activate(row.dataset.key, true);
    });
    els.tree.addEventListener('keydown', (e) => this.#onKey(e));
    els.tree.addEventListener('focus', () => {
      if (!this.#indexOf(this.#activeKey) && this.#rows.length) this.#setActive(this.#defaultActive(), false);
      this.#schedule();
    });
    els.filter.addEventListener('input', () => this.#invalidate());
    els.filter.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        els.tree.focus();
      }
    });
    els.addButton.addEventListener('click', () => this.#toggleAdd());
    els.cancel.addEventListener('click', () => this.#toggleAdd(false));
    els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#addContact();
    });
    els.form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.#toggleAdd(false);
    });
    els.requestList.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-action]');
      if (button) this.#answerRequest(button.dataset.jid, button.dataset.action);
    });
    els.rename.addEventListener('click', () => this.#rename());
    els.remove.addEventListener('click', () => this.#remove());
    if ('ResizeObserver' in window) new ResizeObserver(() => this.#schedule()).observe(els.viewport);
  }

  /** The selected contact's bare JID, or "". */
  get selected() {
    return this.getAttribute('selected') ?? '';
  }

  set selected(jid) {
    if (jid) this.setAttribute('selected', jid);
    else this.removeAttribute('selected');
  }

  attributeChangedCallback() {
    this.#schedule();
  }

  connectFailed(err) {
    this.#els.empty.textContent = this.text('roster.unavailable', { error: err.message });
  }

  subscribe(client) {
    const rebuild = () => this.#invalidate();
    const redraw = () => this.#schedule();
    if (client.state.roster.length) {
      this.#marks.data = true;
      performance.mark('sparkweb-roster:data');
    }
    this.#rosterComplete = true;
    return [
      client.on('roster', (data) => {
        if (!this.#marks.data && (data.items?.length ?? 0) > 0) {
          this.#marks.data = true;
          performance.mark('sparkweb-roster:data');
        }
        this.#rosterComplete = !data.more;
        rebuild();
      }),
      client.on('session', rebuild),
      client.on('snapshot', rebuild),
      client.on('presence', redraw),
      client.on('avatar', redraw),
      client.on('message', redraw),
      client.on('requests', () => this.#renderRequests()),
      client.on('displayed', (d) => {
        if (d.outgoing) this.#markRead(d.with, d.id);
        this.#schedule();
      }),
    ];
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    for (const url of this.#avatars.values()) if (typeof url === 'string') URL.revokeObjectURL(url);
    this.#avatars.clear();
  }

  /** Renders everything again at the next frame, every row's texts too (new strings, a new client). */
  render() {
    for (const el of this.#rowEls.values()) delete el.dataset.sig;
    this.#invalidate();
  }

  /** Rebuild the row model and render at the next frame. */
  #invalidate() {
    this.#dirty = true;
    this.#schedule();
  }

  /** Render at the next frame; events arriving in one burst (roster chunks) render once. */
  #schedule() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  // ---- the model ----

  #buildRows() {
    const state = this.client?.state;
    const roster = state?.roster ?? [];
    const filter = this.#els.filter.value.trim().toLocaleLowerCase();
    const groups = new Map();
    const fallback = this.text('roster.defaultGroup');
    for (const item of roster) {
      if (filter && !label(item).toLocaleLowerCase().includes(filter) && !item.jid.toLocaleLowerCase().includes(filter)) continue;
      for (const g of item.groups?.length ? item.groups : [fallback]) {
        let list = groups.get(g);
        if (!list) groups.set(g, (list = []));
        list.push(item);
      }
    }
    const names = [...groups.keys()].sort(collator.compare);
    const rows = [];
    names.forEach((g, gi) => {
      const items = groups.get(g).sort((a, b) => collator.compare(label(a), label(b)) || collator.compare(a.jid, b.jid));
      // A filter shows its matches even in collapsed groups.
      const expanded = !!filter || !this.#collapsed.has(g);
      rows.push({ key: `g\n${g}`, group: g, level: 1, pos: gi + 1, size: names.length, count: items.length, expanded });
      if (!expanded) return;
      items.forEach((item, i) => {
        rows.push({ key: `c\n${g}\n${item.jid}`, group: g, level: 2, pos: i + 1, size: items.length, item });
      });
    });
    this.#rows = rows;
    this.#index = null;
  }

  /** Row index by key, built on demand. */
  #index = null;

  #indexOf(key) {
    if (!key) return undefined;
    if (!this.#index) this.#index = new Map(this.#rows.map((r, i) => [r.key, i]));
    return this.#index.get(key);
  }

  // ---- rendering ----

  /** Draws the rows in view (rebuilding the row model first when it changed). */
  #draw() {
    const els = this.#els;
    const state = this.client?.state;
    if (this.#dirty) {
      this.#dirty = false;
      this.#buildRows();
      this.#renderChrome();
      this.#renderRequests();
    }
    const online = state?.session.state === 'online';
    const rosterSize = state?.roster.length ?? 0;
    const filter = els.filter.value.trim();
    const empty = !this.client
      ? this.text('roster.loading')
      : rosterSize === 0
        ? this.text(online ? 'roster.empty' : 'roster.signedOut')
        : this.#rows.length === 0
          ? this.text('roster.noMatch', { filter })
          : '';
    setText(els.empty, empty);
    setAttr(els.empty, 'hidden', empty ? null : '');
    setAttr(els.viewport, 'hidden', this.#rows.length ? null : '');

    const rows = this.#rows;
    const treeHeight = `${rows.length * ROW_HEIGHT}px`;
    if (els.tree.style.height !== treeHeight) els.tree.style.height = treeHeight;
    if (this.#activeKey && this.#indexOf(this.#activeKey) === undefined) this.#activeKey = '';
    const view = els.viewport;
    const height = view.clientHeight || ROW_HEIGHT * 20;
    const first = Math.max(0, Math.floor(view.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length - 1, Math.ceil((view.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const wanted = new Set();
    for (let i = first; i <= last; i++) wanted.add(i);
    // The active row stays in the DOM even when scrolled away: aria-activedescendant needs it.
    const active = this.#indexOf(this.#activeKey);
    if (active !== undefined) wanted.add(active);

    // Rows that left the window are recycled for the ones that entered it: patching a few
    // texts and attributes of existing elements costs the browser far less style work than
    // creating new ones, which is what keeps fast scrolling within a frame.
    const keep = new Map();
    const free = { 1: [], 2: [] };
    for (const [key, el] of this.#rowEls) {
      const i = this.#indexOf(key);
      if (i === undefined || !wanted.has(i)) free[el.dataset.level].push(el);
    }
    const presences = online ? state.presence : [];
    for (const i of wanted) {
      const row = rows[i];
      const v = row.level === 1 ? this.#groupView(row) : this.#contactView(row, presences, state);
      v.at = `${i}|${row.pos}/${row.size}|${row.key === this.#activeKey}`;
      const sig = JSON.stringify(v);
      let el = this.#rowEls.get(row.key);
      if (!el || el.dataset.level !== String(row.level)) el = free[row.level].pop() ?? this.#newRow(row.level);
      if (el.dataset.sig !== sig) {
        el.dataset.sig = sig;
        el.style.top = `${i * ROW_HEIGHT}px`;
        el.id = `row-${i}`;
        el.classList.toggle('active', row.key === this.#activeKey);
        if (row.level === 1) this.#patchGroup(el, row, v);
        else this.#patchContact(el, row, v);
      }
      if (!el.isConnected) els.tree.append(el);
      keep.set(row.key, el);
    }
    for (const list of Object.values(free)) for (const el of list) el.remove();
    this.#rowEls = keep;
    const activeEl = keep.get(this.#activeKey);
    setAttr(els.tree, 'aria-activedescendant', activeEl ? activeEl.id : null);
    this.#renderActions();

    if (rows.some((r) => r.level === 2) && keep.size) {
      if (!this.#marks.render) {
        this.#marks.render = true;
        performance.mark('sparkweb-roster:first-render', { detail: { contacts: rosterSize } });
      }
      if (!this.#marks.complete && this.#rosterComplete) {
        this.#marks.complete = true;
        performance.mark('sparkweb-roster:complete', { detail: { contacts: rosterSize } });
      }
    }
  }

  /** The toolbar, add form and tree labels (strings only). */
  #renderChrome() {
    const els = this.#els;
    els.filter.placeholder = this.text('roster.filter');
    els.filter.setAttribute('aria-label', this.text('roster.filter'));
    els.addButton.textContent = this.text('roster.add');
    els.jid.placeholder = els.jid.ariaLabel = this.text('roster.add.jid');
    els.name.placeholder = els.name.ariaLabel = this.text('roster.add.name');
    els.submit.textContent = this.text('roster.add.submit');
    els.cancel.textContent = this.text('roster.add.cancel');
    els.requestsTitle.textContent = this.text('roster.requests');
    els.tree.setAttribute('aria-label', this.text('roster.label'));
    els.rename.textContent = this.text('roster.rename');
    els.remove.textContent = this.text('roster.remove');
    els.addButton.disabled = els.submit.disabled = this.client?.state.session.state !== 'online';
  }

  #groupView(row) {
    return { g: row.group, n: row.count, x: row.expanded };
  }

  #contactView(row, presences, state) {
    const item = row.item;
    const presence = presences.length ? bestPresence(presences, item.jid) : null;
    const hash = state?.avatars?.[item.jid] ?? '';
    return {
      j: item.jid,
      l: label(item),
      s: presence?.show ?? 'unavailable',
      t: presence?.status ?? '',
      a: item.ask ? 1 : 0,
      u: this.#unread(item.jid, state),
      // The picture's URL once loaded (starts loading it otherwise), so the row is redrawn then.
      i: this.#avatarURL(item.jid, hash),
      sel: item.jid === this.selected ? 1 : 0,
    };
  }

  /** An empty row of a level (1: group, 2: contact), to be filled by a patch method. */
  #newRow(level) {
    const el = document.createElement('div');
    el.className = 'row';
    el.dataset.level = String(level);
    el.setAttribute('role', 'treeitem');
    el.setAttribute('aria-level', String(level));
    if (level === 1) {
      const chevron = span('chevron', '▾');
      chevron.setAttribute('aria-hidden', 'true');
      const name = span('name', '');
      name.setAttribute('part', 'group-name');
      el.setAttribute('part', 'group');
      el.append(chevron, name, span('count', ''));
      return el;
    }
    const avatar = span('avatar', '');
    avatar.setAttribute('part', 'avatar');
    avatar.setAttribute('aria-hidden', 'true');
    const initials = span('initials', '');
    const img = document.createElement('img');
    img.alt = '';
    img.hidden = true;
    const dot = span('dot', '');
    dot.setAttribute('part', 'presence');
    avatar.append(initials, img, dot);
    const name = span('name', '');
    name.setAttribute('part', 'name');
    const show = span('show', '');
    show.setAttribute('part', 'show');
    // The number for the eye, the words for screen readers (part of the row's name).
    const unread = span('unread', '');
    unread.setAttribute('part', 'unread');
    const n = span('', '');
    n.setAttribute('aria-hidden', 'true');
    unread.append(n, span('visually-hidden', ''));
    el.append(avatar, name, show, unread);
    return el;
  }

  #patchGroup(el, row, v) {
    el.dataset.key = row.key;
    setAttr(el, 'aria-setsize', String(row.size));
    setAttr(el, 'aria-posinset', String(row.pos));
    setAttr(el, 'aria-expanded', String(v.x));
    setText(el.children[1], v.g);
    setText(el.children[2], this.text('roster.groupCount', { count: v.n }));
  }

  #patchContact(el, row, v) {
    el.dataset.key = row.key;
    el.dataset.jid = v.j;
    setAttr(el, 'part', v.sel ? 'contact contact-selected' : 'contact');
    setAttr(el, 'aria-setsize', String(row.size));
    setAttr(el, 'aria-posinset', String(row.pos));
    setAttr(el, 'aria-selected', String(!!v.sel));
    setAttr(el, 'title', v.t || null);
    const [avatar, name, show, unread] = el.children;
    // The picture when there is one, else initials on a colour derived from the JID.
    const [initials, img, dot] = avatar.children;
    setAttr(img, 'hidden', v.i ? null : '');
    setAttr(img, 'src', v.i || null);
    setText(initials, v.i ? '' : initialsOf(v.l));
    const background = v.i ? '' : `hsl(${hue(v.j)} 45% 42%)`;
    if (avatar.style.background !== background) avatar.style.background = background;
    setAttr(dot, 'data-show', v.s);
    setText(name, v.l);
    let showText = this.text(`roster.show.${v.s}`);
    if (v.a) showText += ' ' + this.text('roster.pending');
    setText(show, showText);
    setAttr(unread, 'hidden', v.u > 0 ? null : '');
    if (v.u > 0) {
      const words = this.text('roster.unread', { count: v.u });
      setAttr(unread, 'title', words);
      setText(unread.children[0], String(v.u));
      setText(unread.children[1], words);
    }
  }

  /** The Blob URL of an avatar once loaded, else ''; starts loading it (once per hash). */
  #avatarURL(jid, hash) {
    if (!hash) return '';
    const known = this.#avatars.get(hash);
    if (known !== undefined) return typeof known === 'string' ? known : '';
    const client = this.client;
    if (!client) return '';
    const loading = client
      .request('avatar.get', { jid, hash })
      .then((res) => {
        if (!res?.data || !IMAGE_TYPES.has(res.type)) return null;
        const bytes = Uint8Array.from(atob(res.data), (c) => c.charCodeAt(0));
        return URL.createObjectURL(new Blob([bytes], { type: res.type }));
      })
      .catch(() => null) // no avatar support, or none stored: initials
      .then((url) => {
        if (this.client !== client) {
          if (url) URL.revokeObjectURL(url);
          return;
        }
        this.#avatars.set(hash, url);
        if (url) this.#schedule();
      });
    this.#avatars.set(hash, loading);
    return '';
  }

  #renderRequests() {
    const els = this.#els;
    const requests = (this.client?.state.requests ?? []).filter((r) => r.type === 'subscribe');
    els.requests.hidden = requests.length === 0;
    const items = requests.map((r) => {
      const li = document.createElement('li');
      li.setAttribute('part', 'request');
      const who = span('who', r.jid);
      const what = span('note', r.status ? `${this.text('roster.request')}: “${r.status}”` : this.text('roster.request'));
      const approve = document.createElement('button');
      approve.type = 'button';
      approve.className = 'primary';
      approve.setAttribute('part', 'button');
      approve.dataset.action = 'approve';
      approve.dataset.jid = r.jid;
      approve.textContent = this.text('roster.approve');
      approve.setAttribute('aria-label', `${this.text('roster.approve')} ${r.jid}`);
      const deny = document.createElement('button');
      deny.type = 'button';
      deny.setAttribute('part', 'button');
      deny.dataset.action = 'deny';
      deny.dataset.jid = r.jid;
      deny.textContent = this.text('roster.deny');
      deny.setAttribute('aria-label', `${this.text('roster.deny')} ${r.jid}`);
      li.append(who, approve, deny, what);
      return li;
    });
    els.requestList.replaceChildren(...items);
  }

  /** Rename/Remove for the selected contact, when it is in the roster. */
  #renderActions() {
    const els = this.#els;
    const item = this.client?.state.roster.find((r) => r.jid === this.selected);
    setAttr(els.actions, 'hidden', item && this.client?.state.session.state === 'online' ? null : '');
    if (item) setText(els.who, label(item));
  }

  // ---- unread counts ----

  #unread(jid, state) {
    const list = state?.conversations?.[jid];
    if (!list?.length) return 0;
    this.#loadRead(state);
    const read = this.#read.get(jid);
    let n = 0;
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i];
      if (m.outgoing) break;
      if (read && (m.id === read.id || m.timestamp <= read.ts)) break;
      if (!m.retracted) n++;
    }
    return n;
  }

  /** Loads the read positions of the signed-in account from localStorage (once per account). */
  #loadRead(state) {
    const account = bareOf(state?.session.jid);
    if (account === this.#readAccount) return;
    this.#readAccount = account;
    this.#read = new Map();
    if (!account) return;
    try {
      const saved = JSON.parse(localStorage.getItem('sparkweb-read:' + account) ?? '{}');
      for (const [jid, pos] of Object.entries(saved)) {
        if (typeof pos?.id === 'string' && typeof pos?.ts === 'string') this.#read.set(jid, pos);
      }
    } catch {
      // unreadable or no storage: counts start from the conversation's start
    }
    // Markers seen by this tab before this element existed.
    for (const [jid, id] of Object.entries(state?.displayed ?? {})) this.#markRead(jid, id);
  }

  #markRead(jid, id) {
    const state = this.client?.state;
    this.#loadRead(state);
    const msg = state?.conversations?.[jid]?.find((m) => m.id === id);
    const ts = msg?.timestamp ?? new Date().toISOString();
    const old = this.#read.get(jid);
    if (old && old.ts >= ts) return;
    this.#read.set(jid, { id, ts });
    if (!this.#readAccount) return;
    try {
      localStorage.setItem('sparkweb-read:' + this.#readAccount, JSON.stringify(Object.fromEntries(this.#read)));
    } catch {
      // no storage: the position lasts as long as the page
    }
  }

  // ---- keyboard, selection, actions ----

  #defaultActive() {
    const sel = this.#rows.findIndex((r) => r.item?.jid === this.selected);
    return this.#rows[sel >= 0 ? sel : 0]?.key ?? '';
  }

  #onKey(e) {
    const rows = this.#rows;
    if (!rows.length) return;
    let i = this.#indexOf(this.#activeKey);
    if (i === undefined) i = this.#indexOf(this.#defaultActive()) ?? 0;
    const row = rows[i];
    const page = Math.max(1, Math.floor(this.#els.viewport.clientHeight / ROW_HEIGHT) - 1);
    let target;
    switch (e.key) {
      case 'ArrowDown':
        target = Math.min(i + 1, rows.length - 1);
        break;
      case 'ArrowUp':
        target = Math.max(i - 1, 0);
        break;
      case 'Home':
        target = 0;
        break;
      case 'End':
        target = rows.length - 1;
        break;
      case 'PageDown':
        target = Math.min(i + page, rows.length - 1);
        break;
      case 'PageUp':
        target = Math.max(i - page, 0);
        break;
      case 'ArrowRight':
        if (row.level === 1 && !row.expanded) this.#toggleGroup(row.group);
        else if (row.level === 1) target = Math.min(i + 1, rows.length - 1);
        break;
      case 'ArrowLeft':
        if (row.level === 1 && row.expanded) this.#toggleGroup(row.group);
        else if (row.level === 2) target = this.#indexOf(`g\n${row.group}`);
        break;
      case 'Enter':
      case ' ':
        this.#activate(row.key, true);
        break;
      default:
        if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
          target = this.#typeAhead(e.key, i);
          if (target === undefined) return;
        } else {
          return;
        }
    }
    e.preventDefault();
    if (target !== undefined) this.#setActive(rows[target].key, true);
  }

  /** The next contact (after i, wrapping) whose name starts with what was typed in the last 0.7 s. */
  #typeAhead(char, i) {
    const now = performance.now();
    this.#typed = now - this.#typedAt < 700 ? this.#typed + char : char;
    this.#typedAt = now;
    const prefix = this.#typed.toLocaleLowerCase();
    const rows = this.#rows;
    const start = this.#typed.length > 1 ? i : i + 1;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[(start + k) % rows.length];
      if (r.level === 2 && label(r.item).toLocaleLowerCase().startsWith(prefix)) return (start + k) % rows.length;
    }
    return undefined;
  }

  /** Makes key the active row and, with scroll, brings it into view. */
  #setActive(key, scroll) {
    this.#activeKey = key;
    const i = this.#indexOf(key);
    if (scroll && i !== undefined) {
      const view = this.#els.viewport;
      const top = i * ROW_HEIGHT;
      if (top < view.scrollTop) view.scrollTop = top;
      else if (top + ROW_HEIGHT > view.scrollTop + view.clientHeight) view.scrollTop = top + ROW_HEIGHT - view.clientHeight;
    }
    // Synchronously, so aria-activedescendant names a row that exists when the key event ends.
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    this.#draw();
  }

  /** A click, Enter or Space on a row: toggles a group, selects a contact. */
  #activate(key, scroll) {
    const row = this.#rows[this.#indexOf(key)];
    if (!row) return;
    this.#activeKey = key;
    if (row.level === 1) {
      this.#toggleGroup(row.group);
      return;
    }
    this.selected = row.item.jid;
    this.#setActive(key, scroll);
    this.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail: { jid: row.item.jid } }));
  }

  #toggleGroup(group) {
    if (this.#collapsed.has(group)) this.#collapsed.delete(group);
    else this.#collapsed.add(group);
    this.#activeKey = `g\n${group}`;
    this.#dirty = true;
    this.#setActive(this.#activeKey, true);
  }

  #say(text, error = false) {
    this.#els.status.textContent = text;
    this.#els.status.classList.toggle('error', error);
  }

  #toggleAdd(open = this.#els.form.hidden) {
    const els = this.#els;
    els.form.hidden = !open;
    els.addButton.setAttribute('aria-expanded', String(open));
    if (open) els.jid.focus();
    else els.addButton.focus();
  }

  async #addContact() {
    const els = this.#els;
    const jid = els.jid.value.trim();
    const name = els.name.value.trim();
    if (!/^[^@/\s]+@[^@/\s]+$/.test(jid)) {
      this.#say(this.text('roster.add.invalid'), true);
      els.jid.focus();
      return;
    }
    try {
      await this.client.request('roster.add', name ? { jid, name } : { jid });
      await this.client.request('presence.subscribe', { jid });
      els.jid.value = els.name.value = '';
      this.#toggleAdd(false);
      this.#say(this.text('roster.add.done', { jid }));
    } catch (err) {
      this.#say(this.text('roster.failed', { error: err.message || err.code }), true);
    }
  }

  /** Approve: let them see our presence and, unless we already do, ask to see theirs. */
  async #answerRequest(jid, action) {
    const client = this.client;
    if (!client) return;
    try {
      if (action === 'approve') {
        await client.request('presence.approve', { jid });
        const item = client.state.roster.find((r) => r.jid === jid);
        if (!item || (item.subscription !== 'to' && item.subscription !== 'both' && !item.ask)) {
          await client.request('presence.subscribe', { jid });
        }
      } else {
        await client.request('presence.deny', { jid });
      }
      this.#say('');
    } catch (err) {
      this.#say(this.text('roster.failed', { error: err.message || err.code }), true);
    }
  }

  async #rename() {
    const jid = this.selected;
    const item = this.client?.state.roster.find((r) => r.jid === jid);
    if (!item) return;
    const name = prompt(this.text('roster.rename.prompt', { jid }), item.name || '');
    if (name === null) return;
    try {
      await this.client.request('roster.update', { jid, name: name.trim() });
    } catch (err) {
      this.#say(this.text('roster.failed', { error: err.message || err.code }), true);
    }
  }

  async #remove() {
    const jid = this.selected;
    const item = this.client?.state.roster.find((r) => r.jid === jid);
    if (!item || !confirm(this.text('roster.remove.confirm', { name: label(item) }))) return;
    try {
      await this.client.request('roster.remove', { jid });
      this.selected = '';
    } catch (err) {
      this.#say(this.text('roster.failed', { error: err.message || err.code }), true);
    }
  }
}

/** What a contact is called: its roster name, else its address. */
function label(item) {
  return item.name || item.jid;
}

function bareOf(jid) {
  const slash = (jid || '').indexOf('/');
  return slash < 0 ? jid || '' : jid.slice(0, slash);
}

/** Sets (or with null removes) an attribute, only when it changes: every write costs style work. */
function setAttr(el, name, value) {
  if (el.getAttribute(name) === value) return;
  if (value === null) el.removeAttribute(name);
  else el.setAttribute(name, value);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function span(className, text) {
  const el = document.createElement('span');
  el.className = className;
  if (text) el.textContent = text;
  return el;
}

/** Up to two initials of a name ("Ada Lovelace" → "AL"), for an avatar without a picture. */
function initialsOf(name) {
  const words = name.replace(/@.*/, '').split(/[\s._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0] ?? '');
  return letters.join('').toLocaleUpperCase() || '?';
}

/** A stable hue for a JID, so initials keep their colour. */
function hue(jid) {
  let h = 0;
  for (let i = 0; i < jid.length; i++) h = (h * 31 + jid.charCodeAt(i)) % 360;
  return h;
}

if (!customElements.get('sparkweb-roster')) customElements.define('sparkweb-roster', SparkWebRoster);
