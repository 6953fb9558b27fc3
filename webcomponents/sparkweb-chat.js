// <sparkweb-chat with="bob@example.org">: one conversation, with a composer.
//
// The log shows the conversation the engine holds plus every new message of it, sent from any tab;
// scrolling to the top (or "Load earlier messages") pages back through the archive (chat.history)
// and keeps the scroll position. Each message shows its state (Sending…, sent ✓, delivered ✓✓,
// read, or the error that stopped it, in words for screen readers too), "edited" after a
// correction, reactions with counts, the message it replies to, and its body with XEP-0393 styling
// (from Message.styled) and http/https/xmpp links, all built with DOM APIs from text: nothing from
// the network is ever parsed as HTML. Images sent as OOB links (XEP-0066) show as <img> when the
// URL is http(s).
//
// Keyboard: Enter sends, Shift+Enter starts a new line, ArrowUp in the empty composer edits the
// last own message, Escape cancels an edit, a reply or an upload. Each message has buttons to
// react, reply, and (own messages) edit and delete (retract).
// Typing sends chat states (composing, paused after 5 s idle, active when cleared); the peer's
// "is typing…" shows under the header. Incoming messages are announced in a polite live region.
// When the newest messages are on screen and the tab is visible, the newest incoming one is
// marked displayed (chat.displayed), which clears its unread count in every tab.
// Files: the attach button or drag and drop uploads with the façade's upload() (XEP-0363), with a
// progress bar and cancel, then sends the URL (with OOB); hidden where the façade has no upload.
//
// Attributes: `with` (bare JID of the contact, or the full JID room@service/nick of a room
// occupant: private messages through the room, a conversation of their own).
// Strings: "chat.*" keys of i18n.js (or the `strings` property).
// Parts: header, title, presence, typing, scroller, older, log, message, message-in, message-out,
// message-pending, message-error, message-retracted, meta, state, edited, reply-quote, body, link,
// image, reactions, reaction, actions, action, picker, error-text, context, progress, composer,
// label, input, attach, button, hint, error.
import * as sparkweb from './sparkweb.js';
import { bareJID, bestPresence, showLabels, themeCSS } from './sparkweb.js';
import { defineStrings, formatTime } from './i18n.js';
import { SparkWebElement } from './element.js';
import { renderBody, bodyCSS } from './render.js';

defineStrings({
  'chat.none': 'No conversation',
  'chat.occupant': '{nick} ({room})',
  'chat.choose': 'Choose a contact to start chatting.',
  'chat.unavailable': 'Chat unavailable: {error}',
  'chat.you': 'You',
  'chat.label': 'Message to {name}',
  'chat.labelNone': 'Message',
  'chat.send': 'Send',
  'chat.messages': 'Messages with {name}',
  'chat.older': 'Load earlier messages',
  'chat.olderLoading': 'Loading earlier messages…',
  'chat.olderDone': 'This is the start of the conversation.',
  'chat.olderFailed': 'Could not load earlier messages: {error}',
  'chat.starting': 'Starting…',
  'chat.reconnecting': 'Reconnecting… messages are sent once back online.',
  'chat.reconnectingNone': 'Reconnecting…',
  'chat.signedOut': 'Sign in to send messages.',
  'chat.chooseFirst': 'Choose a contact first.',
  'chat.notSent': 'Not sent: {error}',
  'chat.state.pending': 'Sending…',
  'chat.state.sent': 'Sent',
  'chat.state.delivered': 'Delivered',
  'chat.state.read': 'Read',
  'chat.state.error': 'Not delivered: {error}',
  'chat.edited': 'edited',
  'chat.retracted': 'This message was deleted.',
  'chat.typing': '{name} is typing…',
  'chat.paused': '{name} stopped typing.',
  'chat.react': 'React',
  'chat.reply': 'Reply',
  'chat.edit': 'Edit',
  'chat.delete': 'Delete',
  'chat.deleteConfirm': 'Delete this message for everyone?',
  'chat.reaction': '{reaction} {count}',
  'chat.reactionLabel': '{reaction}: {count}, {who}',
  'chat.reactionYou': 'including you',
  'chat.reactionOthers': 'not you',
  'chat.replyingTo': 'Replying to {name}: {text}',
  'chat.replyTo': '{name}: {text}',
  'chat.replyUnknown': 'a message not loaded here',
  'chat.editing': 'Editing your message',
  'chat.cancel': 'Cancel',
  'chat.announce': '{name}: {text}',
  'chat.attach': 'Attach a file',
  'chat.uploading': 'Uploading {name}…',
  'chat.uploadCancelled': 'Upload cancelled.',
  'chat.uploadFailed': 'Upload failed: {error}',
  'chat.drop': 'Drop a file to send it',
  'chat.image': 'Image',
  'chat.failed': 'Failed: {error}',
  ...Object.fromEntries(Object.entries(showLabels).map(([show, text]) => [`chat.show.${show}`, text])),
});

/** The reactions offered by the picker. */
export const REACTIONS = Object.freeze(['👍', '❤️', '😂', '😮', '😢', '🎉']);
const PAUSE_AFTER_MS = 5000;

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host {
  display: flex; flex-direction: column; min-height: 16rem; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_bg); overflow: hidden; position: relative;
}
:host(.dragging)::after {
  content: attr(data-drop); position: absolute; inset: 0; display: grid; place-items: center;
  background: color-mix(in srgb, var(--_accent) 18%, transparent); border: 2px dashed var(--_accent);
  border-radius: var(--_radius); font-weight: 600; pointer-events: none;
}
header { display: flex; flex-wrap: wrap; align-items: center; gap: .1rem .5rem; padding: .6rem .8rem; border-bottom: 1px solid var(--_border); }
h2 { margin: 0; font-size: 1rem; flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.presence { display: inline-flex; align-items: center; gap: .35rem; font-size: .8rem; color: var(--_muted); }
.typing { flex-basis: 100%; margin: 0; font-size: .8rem; color: var(--_muted); font-style: italic; min-height: 1em; }
.scroller { flex: 1; overflow-y: auto; min-height: 8rem; padding: .8rem; display: flex; flex-direction: column; overflow-anchor: none; }
/* One height whether it shows the button or a text, so the messages below do not jump. */
.older { align-self: center; margin-bottom: .5rem; font-size: .8rem; color: var(--_muted); display: flex; gap: .5rem; align-items: center; min-height: 2.25rem; }
.older button { font-size: .8rem; }
ol { margin: 0; padding: 0; list-style: none; display: flex; flex-direction: column; gap: .5rem; margin-top: auto; }
li.msg { max-width: 85%; align-self: flex-start; position: relative; }
li.out { align-self: flex-end; text-align: end; }
.meta { display: block; font-size: .72rem; color: var(--_muted); margin: 0 .3rem .1rem; }
.state[data-state="read"] .icon { color: var(--_accent); }
.state[data-state="error"], .error-text { color: var(--_error); }
.error-text { margin: .15rem .3rem 0; font-size: .8rem; }
.body {
  display: inline-block; text-align: start; margin: 0; padding: .4rem .65rem; border-radius: var(--_radius);
  background: var(--_bubble-in); white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%;
}
li.out .body { background: var(--_bubble-out); color: var(--_bubble-out-fg); }
.body a { color: var(--_accent); }
li.out .body a { color: inherit; }
li[data-state="pending"] .body { opacity: .7; }
li.retracted .body { font-style: italic; opacity: .75; }
${bodyCSS}
.reply-quote {
  display: block; text-align: start; margin: 0 0 .15rem; padding: .15rem .5rem; font-size: .8rem; color: var(--_muted);
  border-inline-start: 3px solid var(--_border); overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
.reactions { display: flex; flex-wrap: wrap; gap: .25rem; margin-top: .2rem; }
li.out .reactions { justify-content: flex-end; }
.reactions button, .picker button { padding: .05rem .4rem; border-radius: 999px; border: 1px solid var(--_border); background: var(--_bg); font-size: .85rem; cursor: pointer; }
.reactions button[aria-pressed="true"] { border-color: var(--_accent); background: var(--_hover); }
.actions { display: flex; gap: .25rem; margin-top: .15rem; opacity: 0; transition: opacity .1s; }
li.out .actions { justify-content: flex-end; }
li.msg:hover .actions, li.msg:focus-within .actions { opacity: 1; }
.actions button { font-size: .72rem; padding: .05rem .4rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg); color: var(--_muted); cursor: pointer; }
.picker { display: flex; gap: .2rem; margin-top: .2rem; }
li.out .picker { justify-content: flex-end; }
.placeholder { color: var(--_muted); align-self: center; }
.context, .upload { display: flex; gap: .5rem; align-items: center; padding: .4rem .8rem 0; font-size: .85rem; color: var(--_muted); }
.context span, .upload span { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.upload progress { flex: 1; }
form { display: flex; gap: .5rem; align-items: end; padding: .6rem .8rem; border-top: 1px solid var(--_border); }
textarea {
  flex: 1; resize: vertical; min-height: 2.4rem; padding: .45rem .6rem; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_bg);
}
form button, .context button, .upload button, .older button {
  padding: .45rem 1rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: var(--_accent); color: var(--_accent-fg); cursor: pointer;
}
.context button, .upload button, .older button, form button.attach { background: var(--_bg); color: var(--_fg); border-color: var(--_border); padding: .3rem .7rem; }
form button.attach { padding: .45rem .7rem; display: inline-flex; align-items: center; }
:disabled { opacity: .6; cursor: not-allowed; }
.hint, .error { margin: 0; padding: 0 .8rem .6rem; font-size: .85rem; }
.hint { color: var(--_muted); }
.error { color: var(--_error); }
.hint:empty, .error:empty, .typing:empty { display: none; }
</style>
<header part="header">
  <h2 part="title"></h2>
  <span class="presence" part="presence"><span class="dot" aria-hidden="true"></span><span class="show"></span></span>
  <p class="typing" part="typing"></p>
</header>
<div class="scroller" part="scroller">
  <div class="older" part="older" hidden><span class="older-text"></span><button type="button" part="button"></button></div>
  <ol part="log"></ol>
</div>
<div class="visually-hidden announcer" aria-live="polite"></div>
<div class="context" part="context" hidden><span></span><button type="button"></button></div>
<div class="upload" part="progress" hidden><span></span><progress max="1" value="0"></progress><button type="button"></button></div>
<form part="composer">
  <label part="label" class="visually-hidden" for="input"></label>
  <button type="button" class="attach" part="attach" hidden><svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8"/></svg><span class="visually-hidden"></span></button>
  <input type="file" hidden>
  <textarea part="input" id="input" rows="2" aria-describedby="hint"></textarea>
  <button part="button" class="send" type="submit"></button>
</form>
<p class="hint" part="hint" id="hint"></p>
<p class="error" part="error" role="alert"></p>
`;

/** One conversation of the shared SparkWeb session. */
export class SparkWebChat extends SparkWebElement {
  static observedAttributes = ['with'];

  #els;
  /** The messages shown, oldest first: the engine's conversation plus older pages. */
  #list = [];
  /** Message and its <li> by id. */
  #byId = new Map();
  #lis = new Map();
  #sending = false;
  /** {id} while editing, {id, to, name, text} while replying. */
  #editing = null;
  #replying = null;
  #pickerFor = '';
  #older = { loading: false, complete: false, error: '' };
  #upload = null;
  /** Chat state we last sent, and the timer that sends "paused". */
  #myState = 'active';
  #pauseTimer = 0;
  /** The peer's chat state as last seen (cleared by a message from them). */
  #peerState = '';
  #displayedSent = '';
  #visible = true;
  #observer = null;
  #onVisibility = () => this.#maybeDisplayed();

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      title: $('h2'),
      presence: $('header .presence'),
      dot: $('header .dot'),
      show: $('header .show'),
      typing: $('.typing'),
      scroller: $('.scroller'),
      older: $('.older'),
      olderText: $('.older-text'),
      olderButton: $('.older button'),
      log: $('ol'),
      announcer: $('.announcer'),
      context: $('.context'),
      contextText: $('.context span'),
      contextCancel: $('.context button'),
      upload: $('.upload'),
      uploadText: $('.upload span'),
      progress: $('.upload progress'),
      uploadCancel: $('.upload button'),
      form: $('form'),
      label: $('label'),
      attach: $('.attach'),
      attachText: $('.attach .visually-hidden'),
      file: $('input[type="file"]'),
      input: $('textarea'),
      send: $('form button.send'),
      hint: $('.hint'),
      error: $('.error'),
    };
    const els = this.#els;
    els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#send();
    });
    els.input.addEventListener('keydown', (e) => this.#onComposerKey(e));
    els.input.addEventListener('input', () => this.#typed());
    els.input.addEventListener('blur', () => {
      if (this.#myState === 'composing') this.#sendState('paused');
    });
    this.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && e.target !== els.input && this.#cancelSomething()) e.preventDefault();
    });
    els.scroller.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    els.olderButton.addEventListener('click', () => this.#loadOlder());
    els.log.addEventListener('click', (e) => this.#onLogClick(e));
    els.contextCancel.addEventListener('click', () => this.#cancelContext());
    els.uploadCancel.addEventListener('click', () => this.#upload?.abort());
    els.attach.addEventListener('click', () => els.file.click());
    els.file.addEventListener('change', () => {
      const file = els.file.files?.[0];
      els.file.value = '';
      if (file) this.#uploadFile(file);
    });
    this.addEventListener('dragover', (e) => {
      if (!this.#canUpload() || !e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      this.dataset.drop = this.text('chat.drop');
      this.classList.add('dragging');
    });
    this.addEventListener('dragleave', (e) => {
      if (!this.contains(e.relatedTarget) && e.relatedTarget !== this) this.classList.remove('dragging');
    });
    this.addEventListener('drop', (e) => {
      this.classList.remove('dragging');
      const file = e.dataTransfer?.files?.[0];
      if (!file || !this.#canUpload()) return;
      e.preventDefault();
      this.#uploadFile(file);
    });
  }

  /** The contact's bare JID, or a room occupant's full JID (private messages through a room). */
  get with() {
    const jid = this.getAttribute('with') ?? '';
    const bare = bareJID(jid);
    return jid !== bare && this.#isOccupant(jid, bare) ? jid : bare;
  }

  /** Whether jid (full) and its bare part is a room occupant: a room we know, or its conversation. */
  #isOccupant(jid, bare) {
    const state = this.client?.state;
    return !!state && (state.rooms?.some((r) => r.jid === bare.toLowerCase()) || jid in state.conversations);
  }

  set with(jid) {
    this.setAttribute('with', jid);
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    this.#els.error.textContent = '';
    this.#editing = this.#replying = null;
    this.#pickerFor = '';
    this.#peerState = this.client?.state.chatstates?.[this.with] ?? '';
    this.#older = { loading: false, complete: false, error: '' };
    if (this.#myState !== 'active' && oldValue) this.#sendState('active', bareJID(oldValue));
    this.#myState = 'active';
    this.render();
  }

  connectedCallback() {
    document.addEventListener('visibilitychange', this.#onVisibility);
    if ('IntersectionObserver' in window) {
      this.#observer = new IntersectionObserver((entries) => {
        this.#visible = entries.at(-1).isIntersecting;
        this.#maybeDisplayed();
      });
      this.#observer.observe(this);
    }
    super.connectedCallback();
  }

  connectFailed(err) {
    this.#els.error.textContent = this.text('chat.unavailable', { error: err.message });
  }

  subscribe(client) {
    this.#peerState = client.state.chatstates?.[this.with] ?? '';
    const header = () => this.#renderHeader();
    return [
      client.on('session', (s) => {
        header();
        if (s.state === 'online') this.#fillView();
      }),
      client.on('roster', header),
      client.on('occupant', (d) => this.with.startsWith(`${d.room}/`) && header()),
      client.on('room', header),
      client.on('presence', header),
      client.on('message', (msg) => {
        if (msg.with === this.with) this.#onMessage(msg);
      }),
      // Receipts and markers may arrive without the message again: the façade updated its state.
      client.on('receipt', (d) => d.with === this.with && this.#refreshFromState()),
      client.on('displayed', (d) => d.with === this.with && !d.outgoing && this.#refreshFromState()),
      client.on('chatstate', (d) => {
        if (d.with !== this.with) return;
        this.#peerState = d.state;
        this.#renderTyping();
      }),
      // A new engine took over (see sparkweb.js): what it holds replaces what we showed.
      client.on('snapshot', () => this.render()),
    ];
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.#onVisibility);
    this.#observer?.disconnect();
    this.#observer = null;
    this.#upload?.abort();
    clearTimeout(this.#pauseTimer);
  }

  // ---- messages ----

  /** Rebuilds the whole view from the façade's state (new contact, new engine, new strings). */
  render() {
    this.#list = [];
    this.#byId.clear();
    this.#lis.clear();
    this.#displayedSent = '';
    for (const msg of this.client?.state.conversations[this.with] ?? []) this.#remember(msg);
    this.#renderLog(true);
    this.#renderHeader();
    this.#renderContext();
    this.#renderTyping();
    this.#fillView();
  }

  /** Adds or updates a message in #list; returns true when it is new. */
  #remember(msg) {
    const key = msg.id || `${msg.from}\n${msg.timestamp}\n${msg.body}`;
    const old = this.#byId.get(key);
    if (old) {
      // Replace, not merge: a field the new version lacks is gone (but the archive id stays known).
      for (const k of Object.keys(old)) if (k !== 'key' && k !== 'stanzaId') delete old[k];
      Object.assign(old, msg, { stanzaId: msg.stanzaId ?? old.stanzaId });
      if (!old.stanzaId) delete old.stanzaId;
      return false;
    }
    const copy = { ...msg, key };
    this.#byId.set(key, copy);
    this.#list.push(copy);
    return true;
  }

  #refreshFromState() {
    for (const msg of this.client?.state.conversations[this.with] ?? []) {
      const mine = this.#byId.get(msg.id);
      if (mine && mine.state !== msg.state) this.#onMessage(msg);
    }
  }

  #onMessage(msg) {
    const isNew = this.#remember(msg);
    const m = this.#byId.get(msg.id || `${msg.from}\n${msg.timestamp}\n${msg.body}`);
    if (!isNew) {
      this.#replaceLi(m);
      // Replies quoting it show its new text.
      for (const other of this.#list) if (other.replyTo?.id === m.id) this.#replaceLi(other);
      return;
    }
    const { scroller, log } = this.#els;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
    const newest = this.#list.at(-2);
    if (newest && newest.timestamp > m.timestamp) {
      // Older than what is shown (the archive catching up): put it in its place, keep the view.
      this.#renderLog(false);
      return;
    }
    log.querySelector('.placeholder')?.remove();
    log.append(this.#li(m));
    if (nearBottom || m.outgoing) scroller.scrollTop = scroller.scrollHeight;
    if (!m.outgoing) {
      this.#peerState = '';
      this.#renderTyping();
      if (!m.retracted) this.#els.announcer.textContent = this.text('chat.announce', { name: this.#contactName(), text: m.body });
    }
    this.#maybeDisplayed();
  }

  #replaceLi(m) {
    const old = this.#lis.get(m.key);
    if (old) old.replaceWith(this.#li(m));
  }

  /** Renders the list; keeping the distance from the bottom unless toBottom. */
  #renderLog(toBottom) {
    const { log, scroller } = this.#els;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    this.#renderOlder(); // above the messages: before the scroll position is set again
    this.#list.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    if (!this.with) {
      const li = document.createElement('li');
      li.className = 'placeholder';
      li.textContent = this.text('chat.choose');
      log.replaceChildren(li);
    } else {
      log.replaceChildren(...this.#list.map((m) => this.#lis.get(m.key) ?? this.#li(m)));
    }
    log.setAttribute('aria-label', this.text('chat.messages', { name: this.with ? this.#contactName() : '' }));
    scroller.scrollTop = toBottom ? scroller.scrollHeight : scroller.scrollHeight - fromBottom;
  }

  /** Builds the <li> of a message (and remembers it by key). */
  #li(m) {
    const li = document.createElement('li');
    li.className = `msg ${m.outgoing ? 'out' : 'in'}`;
    li.dataset.id = m.id ?? '';
    const parts = ['message', m.outgoing ? 'message-out' : 'message-in'];
    if (m.outgoing && m.state) li.dataset.state = m.state;
    if (m.outgoing && m.state === 'pending') parts.push('message-pending');
    if (m.state === 'error') parts.push('message-error');
    if (m.retracted) {
      li.classList.add('retracted');
      parts.push('message-retracted');
    }
    li.setAttribute('part', parts.join(' '));

    const meta = el('span', 'meta', '', 'meta');
    const who = el('span', 'who', m.outgoing ? this.text('chat.you') : this.#contactName());
    meta.append(who);
    const at = formatTime(m.timestamp);
    if (at) {
      const time = el('time', '', ` · ${at}`);
      time.dateTime = m.timestamp;
      meta.append(time);
    }
    if (m.correctedAt && !m.retracted) meta.append(' · ', el('span', 'edited', this.text('chat.edited'), 'edited'));
    if (m.outgoing && m.state) meta.append(this.#stateView(m));
    li.append(meta);

    if (m.replyTo?.id && !m.retracted) {
      const ref = this.#byId.get(m.replyTo.id);
      const text = ref
        ? this.text('chat.replyTo', { name: ref.outgoing ? this.text('chat.you') : this.#contactName(), text: snippet(ref) })
        : this.text('chat.replyUnknown');
      const quote = el('span', 'reply-quote', '↪ ' + text, 'reply-quote');
      if (ref) quote.dataset.ref = ref.key;
      li.append(quote);
    }

    const body = el('div', 'body', '', 'body');
    if (m.retracted) body.textContent = this.text('chat.retracted');
    else body.append(renderBody(m, { imageAlt: this.text('chat.image') }));
    li.append(body);

    if (m.state === 'error' && m.error) {
      li.append(el('p', 'error-text', this.text('chat.state.error', { error: m.error.message || m.error.code }), 'error-text'));
    }
    if (!m.retracted) {
      const reactions = this.#reactionsView(m);
      if (reactions) li.append(reactions);
      li.append(this.#actionsView(m));
      if (this.#pickerFor === m.key) li.append(this.#pickerView(m));
    }
    this.#lis.set(m.key, li);
    return li;
  }

  /** The delivery state: a symbol for the eye, words for everyone (title and hidden text). */
  #stateView(m) {
    const state = el('span', 'state', '', 'state');
    state.dataset.state = m.state;
    const words = this.text(`chat.state.${m.state}`, { error: m.error?.message || m.error?.code || '' });
    if (m.state === 'pending') {
      state.textContent = ` · ${words}`;
      return state;
    }
    if (m.state === 'error') return state; // the error text under the body says it
    const icon = el('span', 'icon', { sent: ' ✓', delivered: ' ✓✓', read: ' ✓✓' }[m.state] ?? '');
    icon.setAttribute('aria-hidden', 'true');
    state.title = words;
    state.append(icon, el('span', 'visually-hidden', ` ${words}`));
    return state;
  }

  #reactionsView(m) {
    const counts = new Map();
    const me = bareJID(this.client?.state.session.jid ?? '');
    for (const [who, list] of Object.entries(m.reactions ?? {})) {
      for (const r of list ?? []) {
        const c = counts.get(r) ?? { n: 0, mine: false };
        c.n++;
        if (who === me) c.mine = true;
        counts.set(r, c);
      }
    }
    if (!counts.size) return null;
    const box = el('div', 'reactions', '', 'reactions');
    for (const [r, c] of counts) {
      const b = el('button', '', this.text('chat.reaction', { reaction: r, count: c.n }), 'reaction');
      b.type = 'button';
      b.dataset.action = 'toggle-reaction';
      b.dataset.reaction = r;
      b.setAttribute('aria-pressed', String(c.mine));
      b.setAttribute('aria-label', this.text('chat.reactionLabel', { reaction: r, count: c.n, who: this.text(c.mine ? 'chat.reactionYou' : 'chat.reactionOthers') }));
      box.append(b);
    }
    return box;
  }

  #actionsView(m) {
    const box = el('div', 'actions', '', 'actions');
    const add = (action, key) => {
      const b = el('button', '', this.text(key), 'action');
      b.type = 'button';
      b.dataset.action = action;
      box.append(b);
    };
    add('react', 'chat.react');
    add('reply', 'chat.reply');
    if (m.outgoing && m.id) {
      add('edit', 'chat.edit');
      add('delete', 'chat.delete');
    }
    return box;
  }

  #pickerView() {
    const box = el('div', 'picker', '', 'picker');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', this.text('chat.react'));
    for (const r of REACTIONS) {
      const b = el('button', '', r);
      b.type = 'button';
      b.dataset.action = 'toggle-reaction';
      b.dataset.reaction = r;
      box.append(b);
    }
    return box;
  }

  async #onLogClick(e) {
    const button = e.target.closest('button[data-action]');
    const li = e.target.closest('li.msg');
    if (!li) return;
    const m = this.#list.find((x) => this.#lis.get(x.key) === li);
    if (!m) return;
    if (!button) {
      const quote = e.target.closest('.reply-quote[data-ref]');
      const target = quote && this.#lis.get(quote.dataset.ref);
      target?.scrollIntoView({ block: 'center' });
      return;
    }
    switch (button.dataset.action) {
      case 'react':
        this.#pickerFor = this.#pickerFor === m.key ? '' : m.key;
        this.#replaceLi(m);
        this.#lis.get(m.key)?.querySelector('.picker button')?.focus();
        break;
      case 'toggle-reaction':
        await this.#toggleReaction(m, button.dataset.reaction);
        break;
      case 'reply':
        this.#editing = null;
        // XEP-0461 names the author of the message answered.
        // In a room occupant's conversation the author is the occupant JID itself.
        const author = this.with.includes('/') ? m.from : bareJID(m.from);
        this.#replying = { id: m.id, to: m.outgoing ? bareJID(this.client?.state.session.jid ?? '') : author, key: m.key };
        this.#renderContext();
        this.#els.input.focus();
        break;
      case 'edit':
        this.#startEdit(m);
        break;
      case 'delete':
        if (!confirm(this.text('chat.deleteConfirm'))) return;
        await this.#ask('chat.retract', { to: this.with, id: m.id });
        break;
    }
  }

  async #toggleReaction(m, reaction) {
    const me = bareJID(this.client?.state.session.jid ?? '');
    const mine = new Set(m.reactions?.[me] ?? []);
    if (mine.has(reaction)) mine.delete(reaction);
    else mine.add(reaction);
    this.#pickerFor = '';
    this.#replaceLi(m);
    await this.#ask('chat.react', { to: this.with, id: m.id, reactions: [...mine] });
  }

  /** Sends a request; shows its failure in the error line. */
  async #ask(op, args) {
    try {
      this.#els.error.textContent = '';
      return await this.client.request(op, args);
    } catch (err) {
      this.#els.error.textContent = this.text('chat.failed', { error: err.message || err.code });
      return null;
    }
  }

  // ---- history ----

  #onScroll() {
    const { scroller } = this.#els;
    if (scroller.scrollTop < 80) this.#loadOlder();
    this.#maybeDisplayed();
  }

  /** Loads older messages until the log can scroll (or the history is complete). */
  #fillView() {
    const { scroller } = this.#els;
    if (scroller.scrollHeight <= scroller.clientHeight + 80) this.#loadOlder();
    this.#maybeDisplayed();
  }

  async #loadOlder() {
    const client = this.client;
    const jid = this.with;
    const older = this.#older;
    if (!client || !jid || older.loading || older.complete || client.state.session.state !== 'online') return;
    older.loading = true;
    older.error = '';
    this.#renderOlder();
    const oldest = this.#list.find((m) => m.stanzaId);
    const args = { with: jid, limit: 50 };
    if (oldest) args.before = oldest.stanzaId;
    let added = 0;
    try {
      const res = await client.request('chat.history', args);
      if (this.#older !== older) return; // another conversation by now
      const before = this.#list.length;
      for (const msg of res?.messages ?? []) if (this.#remember(msg)) added++;
      // Older than all shown: in front, so that the (stable) sort keeps them first among messages
      // stamped in the same second.
      this.#list.unshift(...this.#list.splice(before));
      older.complete = !!res?.complete || (res?.messages ?? []).length === 0;
    } catch (err) {
      older.error = err.message || err.code;
    } finally {
      older.loading = false;
    }
    if (this.#older !== older) return;
    if (added) this.#renderLog(false);
    else this.#renderOlder();
    if (added && !older.complete) this.#fillView();
  }

  #renderOlder() {
    const els = this.#els;
    const o = this.#older;
    els.older.hidden = !this.with || !this.client;
    els.olderButton.textContent = this.text('chat.older');
    els.olderButton.hidden = o.complete || o.loading;
    els.olderText.textContent = o.loading
      ? this.text('chat.olderLoading')
      : o.error
        ? this.text('chat.olderFailed', { error: o.error })
        : o.complete
          ? this.text('chat.olderDone')
          : '';
  }

  // ---- displayed markers ----

  /** Marks the newest incoming message displayed when the user can see it. */
  #maybeDisplayed() {
    const client = this.client;
    const jid = this.with;
    if (!client || !jid || document.visibilityState !== 'visible' || !this.#visible) return;
    const { scroller } = this.#els;
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight > 60) return; // newest not in view
    let newest = null;
    for (let i = this.#list.length - 1; i >= 0; i--) {
      const m = this.#list[i];
      if (!m.outgoing && m.id && !m.retracted) {
        newest = m;
        break;
      }
    }
    if (!newest || newest.id === this.#displayedSent || client.state.displayed?.[jid] === newest.id) return;
    this.#displayedSent = newest.id;
    client.request('chat.displayed', { with: jid, id: newest.id }).catch(() => {
      this.#displayedSent = ''; // try again on the next occasion
    });
  }

  // ---- typing ----

  #typed() {
    clearTimeout(this.#pauseTimer);
    if (this.#editing) return; // editing is not composing a new message
    if (!this.#els.input.value) {
      if (this.#myState !== 'active') this.#sendState('active');
      return;
    }
    if (this.#myState !== 'composing') this.#sendState('composing');
    this.#pauseTimer = setTimeout(() => this.#sendState('paused'), PAUSE_AFTER_MS);
  }

  #sendState(state, to = this.with) {
    this.#myState = state;
    if (state !== 'composing') clearTimeout(this.#pauseTimer);
    const client = this.client;
    if (!client || !to || client.state.session.state !== 'online') return;
    client.request('chat.state', { to, state }).catch(() => {}); // best effort: never queued
  }

  #renderTyping() {
    const name = this.#contactName();
    const s = this.#peerState;
    this.#els.typing.textContent =
      s === 'composing' ? this.text('chat.typing', { name }) : s === 'paused' ? this.text('chat.paused', { name }) : '';
  }

  // ---- composer ----

  #onComposerKey(e) {
    const input = this.#els.input;
    if (e.isComposing) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      this.#send();
    } else if (e.key === 'ArrowUp' && input.value === '' && !this.#editing) {
      const last = this.#list.findLast((m) => m.outgoing && m.id && !m.retracted);
      if (last) {
        e.preventDefault();
        this.#startEdit(last);
      }
    } else if (e.key === 'Escape') {
      if (this.#cancelSomething()) e.preventDefault();
    }
  }

  /** Escape: cancels an upload, else an edit or reply. Returns whether there was one. */
  #cancelSomething() {
    if (this.#upload) {
      this.#upload.abort();
      return true;
    }
    if (this.#editing || this.#replying) {
      this.#cancelContext();
      return true;
    }
    if (this.#pickerFor) {
      const m = this.#byId.get(this.#pickerFor);
      this.#pickerFor = '';
      if (m) this.#replaceLi(m);
      return true;
    }
    return false;
  }

  #startEdit(m) {
    this.#replying = null;
    this.#editing = { id: m.id, key: m.key };
    this.#els.input.value = m.body;
    this.#renderContext();
    this.#els.input.focus();
  }

  #cancelContext() {
    if (this.#editing) this.#els.input.value = '';
    this.#editing = this.#replying = null;
    this.#renderContext();
    this.#els.input.focus();
  }

  #renderContext() {
    const els = this.#els;
    els.contextCancel.textContent = this.text('chat.cancel');
    let text = '';
    if (this.#editing) text = this.text('chat.editing');
    else if (this.#replying) {
      const ref = this.#byId.get(this.#replying.key);
      text = this.text('chat.replyingTo', { name: ref?.outgoing ? this.text('chat.you') : this.#contactName(), text: ref ? snippet(ref) : '' });
    }
    els.contextText.textContent = text;
    els.context.hidden = !text;
  }

  async #send() {
    const { input } = this.#els;
    const body = input.value;
    if (!body.trim() || this.#sending || !this.client || !this.with) return;
    this.#sending = true;
    this.#els.error.textContent = '';
    this.#renderHeader();
    const editing = this.#editing;
    const replying = this.#replying;
    try {
      if (editing) {
        const old = this.#byId.get(editing.key);
        if (old?.body !== body) await this.client.request('chat.correct', { to: this.with, id: editing.id, body });
      } else {
        const args = { to: this.with, body };
        if (replying) args.replyTo = replying.to ? { id: replying.id, to: replying.to } : { id: replying.id };
        await this.client.request('chat.send', args);
      }
      // Only clear what was sent: the user may have typed on while it was on its way.
      if (input.value === body) input.value = '';
      if (this.#editing === editing) this.#editing = null;
      if (this.#replying === replying) this.#replying = null;
      this.#myState = 'active'; // a message carries <active/>
      clearTimeout(this.#pauseTimer);
      this.#renderContext();
    } catch (err) {
      this.#els.error.textContent = this.text('chat.notSent', { error: err.message || err.code });
    } finally {
      this.#sending = false;
      this.#renderHeader();
      input.focus();
    }
  }

  // ---- upload ----

  /** The façade's upload(file, {onProgress, signal}) → Promise<URL>, if it has one. */
  #uploader() {
    const client = this.client;
    if (typeof client?.upload === 'function') return (file, opts) => client.upload(file, opts);
    if (typeof sparkweb.upload === 'function') return (file, opts) => sparkweb.upload(file, opts);
    return null;
  }

  #canUpload() {
    return !!this.#uploader() && !!this.with && this.client?.state.session.state === 'online' && !this.#upload;
  }

  async #uploadFile(file) {
    const upload = this.#uploader();
    if (!upload || this.#upload) return;
    const els = this.#els;
    const to = this.with;
    const controller = new AbortController();
    this.#upload = controller;
    els.error.textContent = '';
    els.uploadText.textContent = this.text('chat.uploading', { name: file.name });
    els.uploadCancel.textContent = this.text('chat.cancel');
    els.progress.removeAttribute('value'); // indeterminate until the first progress
    els.progress.setAttribute('aria-label', this.text('chat.uploading', { name: file.name }));
    els.upload.hidden = false;
    this.#renderHeader();
    try {
      const url = await upload(file, {
        signal: controller.signal,
        onProgress: (sent, total) => {
          if (total > 0) els.progress.value = Math.min(1, sent / total);
        },
      });
      await this.client.request('chat.send', { to, body: url, oob: url });
    } catch (err) {
      els.error.textContent = controller.signal.aborted
        ? this.text('chat.uploadCancelled')
        : this.text('chat.uploadFailed', { error: err.message || err.code || String(err) });
    } finally {
      this.#upload = null;
      els.upload.hidden = true;
      this.#renderHeader();
    }
  }

  // ---- header ----

  #contactName() {
    const jid = this.with;
    const occupant = this.#occupant();
    if (occupant) return this.text('chat.occupant', occupant);
    return this.client?.state.roster.find((r) => r.jid === jid)?.name || jid;
  }

  /** For a room occupant's conversation: {room (its name), nick, show}; else null. */
  #occupant() {
    const jid = this.with;
    const slash = jid.indexOf('/');
    if (slash < 0) return null;
    const room = jid.slice(0, slash);
    const nick = jid.slice(slash + 1);
    const state = this.client?.state;
    const o = state?.occupants?.[room]?.find((x) => x.nick === nick);
    const name = state?.rooms?.find((r) => r.jid === room)?.name || room;
    return { room: name, nick, show: o ? o.show || 'available' : 'unavailable' };
  }

  #renderHeader() {
    const els = this.#els;
    const jid = this.with;
    const state = this.client?.state;
    const online = state?.session.state === 'online';
    const name = jid ? this.#contactName() : this.text('chat.none');
    els.title.textContent = name;
    els.title.title = jid;
    const occupant = this.#occupant();
    const show = !jid || !online ? 'unavailable' : occupant ? occupant.show : (bestPresence(state.presence, jid)?.show ?? 'unavailable');
    els.dot.dataset.show = show;
    els.show.textContent = jid ? this.text(`chat.show.${show}`) : '';
    els.presence.hidden = !jid;
    els.label.textContent = jid ? this.text('chat.label', { name }) : this.text('chat.labelNone');
    els.send.textContent = this.text('chat.send');
    els.attachText.textContent = this.text('chat.attach');
    els.attach.title = this.text('chat.attach');
    // While reconnecting the engine keeps what is sent in its outbox and sends it once back.
    const reconnecting = state?.session.state === 'reconnecting';
    const enabled = (online || reconnecting) && !!jid;
    els.input.disabled = !enabled;
    els.send.disabled = !enabled || this.#sending;
    els.attach.hidden = !this.#uploader();
    els.attach.disabled = !online || !jid || !!this.#upload;
    let hint = '';
    if (!this.client) hint = this.text('chat.starting');
    else if (reconnecting) hint = this.text(jid ? 'chat.reconnecting' : 'chat.reconnectingNone');
    else if (!online) hint = this.text('chat.signedOut');
    else if (!jid) hint = this.text('chat.chooseFirst');
    els.hint.textContent = hint;
  }
}

/** An element with a class, text and part. */
function el(tag, className, text, part) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  if (part) e.setAttribute('part', part);
  return e;
}

/** The first line of a message, shortened, for reply quotes. */
function snippet(m) {
  const line = (m.body ?? '').split('\n').find((l) => l.trim() && !l.startsWith('>')) ?? m.body ?? '';
  return line.length > 80 ? line.slice(0, 79) + '…' : line;
}

if (!customElements.get('sparkweb-chat')) customElements.define('sparkweb-chat', SparkWebChat);
