// <sparkweb-room room="room@conference.example.org">: one group chat (XEP-0045).
//
// Shows the subject (editable by moderators), the occupants grouped by role with their affiliation
// and presence, the room's messages (mentions of our nick highlighted; styling, links and shared
// images built by render.js as <sparkweb-chat> does, never markup) with scroll-back through the
// room's archive, and a composer: Enter sends, Shift+Enter starts a new line, Tab completes a nick.
// Each occupant opens a menu with "Mention", "Send private message" (dispatches `sparkweb-select`,
// bubbles, composed, detail {jid: "room@service/nick", kind: "chat"}: the page opens a
// <sparkweb-chat> with that JID) and, only when our role and affiliation allow it, kick, grant or
// revoke voice, make moderator and ban; our own entry's menu changes our nickname. Moderators get
// a "Remove message" button on others' messages (XEP-0425, asking for an optional reason); a
// removed message shows "Removed by a moderator" and the reason, never its old body.
// The room itself is joined and left through <sparkweb-rooms> or the ops; this element joins again
// on request after we left (or were removed), and leaves with its "Leave" button, after which it
// dispatches `sparkweb-leave` (bubbles, composed, detail {jid}).
// Attributes: `room` (bare JID of the room).
// Properties: `strings` (per-element text overrides, keys "room.*", see i18n.js).
// Parts: header, title, subject, subject-form, subject-input, nick-form, actions, button, invite-form, input,
// notice, body-area, log, more, message, message-in, message-out, message-mention, message-pending,
// message-retracted, message-moderated, meta, nick, time, mention-badge, body, link, image,
// message-action, occupants, occupant-group, occupant-group-name,
// occupant, occupant-self, presence, affiliation, menu, menuitem, composer, hint, error.
import { bareJID, themeCSS } from './sparkweb.js';
import { defineStrings, t, formatTime } from './i18n.js';
import { SparkWebElement } from './element.js';
import { renderBody, bodyCSS } from './render.js';

defineStrings({
  'room.title.none': 'No room',
  'room.subject.none': 'No subject',
  'room.subject.edit': 'Change subject',
  'room.subject.label': 'Subject',
  'room.subject.save': 'Save',
  'room.nick.label': 'New nickname',
  'room.cancel': 'Cancel',
  'room.invite': 'Invite',
  'room.invite.jid': 'Address to invite',
  'room.invite.reason': 'Message (optional)',
  'room.invite.send': 'Send invitation',
  'room.invite.sent': 'Invitation sent to {jid}.',
  'room.leave': 'Leave',
  'room.join': 'Join again',
  'room.state.joining': 'Joining…',
  'room.state.left': 'You are not in this room.',
  'room.state.none': 'You are not in this room. Join it from the room list.',
  'room.state.starting': 'Starting…',
  'room.state.offline': 'Sign in to take part in this room.',
  'room.more': 'Load earlier messages',
  'room.more.loading': 'Loading…',
  'room.more.done': 'No earlier messages.',
  'room.you': 'You',
  'room.self': '(you)',
  'room.mention': 'mentions you',
  'room.pending': 'Sending…',
  'room.image': 'Image',
  'room.composer.label': 'Message to {room}',
  'room.send': 'Send',
  'room.notsent': 'Not sent: {error}',
  'room.failed': 'Failed: {error}',
  'room.occupants': 'Occupants ({count})',
  'room.role.moderator': 'Moderators',
  'room.role.participant': 'Participants',
  'room.role.visitor': 'Visitors',
  'room.role.none': 'Others',
  'room.affiliation.owner': 'owner',
  'room.affiliation.admin': 'admin',
  'room.affiliation.member': 'member',
  'room.affiliation.outcast': 'banned',
  'room.occupant.menu': 'Actions for {nick}',
  'room.action.mention': 'Mention',
  'room.action.pm': 'Send private message',
  'room.message.remove': 'Remove message',
  'room.message.removeReason': 'Remove this message for everyone? Reason (optional):',
  'room.moderated': 'Removed by a moderator',
  'room.moderatedReason': 'Removed by a moderator: {reason}',
  'room.retracted': 'This message was deleted.',
  'room.action.kick': 'Kick',
  'room.action.voice': 'Grant voice',
  'room.action.devoice': 'Revoke voice',
  'room.action.moderator': 'Make moderator',
  'room.action.ban': 'Ban',
  'room.action.nick': 'Change nickname',
  'room.action.done.kick': '{nick} was kicked.',
  'room.action.done.voice': '{nick} may now speak.',
  'room.action.done.devoice': '{nick} may no longer speak.',
  'room.action.done.moderator': '{nick} is now a moderator.',
  'room.action.done.ban': '{nick} was banned.',
  'room.error.kicked': 'You were kicked from this room.',
  'room.error.banned': 'You are banned from this room.',
  'room.error.forbidden': 'You are banned from this room, or not allowed to do that.',
  'room.error.not-authorized': 'This room needs a password.',
  'room.error.registration-required': 'Only members may enter this room.',
  'room.error.conflict': 'That nickname is already taken in this room.',
  'room.error.item-not-found': 'This room does not exist.',
  'room.error.not-allowed': 'The server does not allow that.',
  'room.error.service-unavailable': 'The room is full or unavailable.',
  'room.error.not-acceptable': 'The room does not accept that.',
  'room.error.not-connected': 'Not connected.',
  'room.error.shutdown': 'You were removed from this room: the service is shutting down.',
  'room.error.gone': 'This room was destroyed.',
  'room.error.affiliation-changed': 'You were removed from this room: your affiliation changed.',
  'room.error.members-only': 'You were removed from this room: it is now for members only.',
});

/**
 * The user-facing text of a group chat error value (by its stable code), for this element and
 * <sparkweb-rooms>; falls back to the engine's message.
 * @param {{code?: string, message?: string}} err
 * @param {Record<string, string>} [strings] an element's own overrides
 */
export function roomErrorText(err, strings) {
  const key = `room.error.${err?.code}`;
  const text = t(key, undefined, strings);
  if (text !== key) return text;
  return err?.message || err?.code || 'error';
}

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host {
  display: flex; flex-direction: column; min-height: 20rem; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_bg); overflow: hidden;
}
header { display: flex; flex-wrap: wrap; align-items: center; gap: .3rem .6rem; padding: .6rem .8rem; border-bottom: 1px solid var(--_border); }
.heading { flex: 1; min-width: 10rem; }
h2 { margin: 0; font-size: 1rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.subject { margin: .1rem 0 0; font-size: .85rem; color: var(--_muted); overflow-wrap: anywhere; }
.actions { display: flex; gap: .4rem; flex-wrap: wrap; }
button {
  padding: .35rem .8rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: transparent; color: var(--_accent); cursor: pointer;
}
button.primary { background: var(--_accent); color: var(--_accent-fg); }
button.link { border: 0; padding: 0 .2rem; text-decoration: underline; }
:disabled { opacity: .6; cursor: not-allowed; }
input, textarea {
  padding: .4rem .6rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg);
}
.inline-form { display: flex; flex-wrap: wrap; gap: .4rem; align-items: end; padding: .5rem .8rem; border-bottom: 1px solid var(--_border); }
.inline-form label { display: flex; flex-direction: column; gap: .15rem; font-size: .8rem; color: var(--_muted); flex: 1 1 10rem; }
.notice { margin: 0; padding: .5rem .8rem; border-bottom: 1px solid var(--_border); background: var(--_hover); }
.notice:empty { display: none; }
.area { flex: 1; display: flex; min-height: 0; }
.logwrap { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.more { align-self: center; margin: .4rem; font-size: .8rem; }
.log { flex: 1; overflow-y: auto; min-height: 8rem; }
ol.messages {
  margin: 0; padding: .6rem .8rem; list-style: none; display: flex; flex-direction: column; gap: .35rem;
}
ol.messages > li { max-width: 90%; align-self: flex-start; padding: .25rem .5rem; border-radius: var(--_radius); background: var(--_bubble-in); }
ol.messages > li.out { align-self: flex-end; background: var(--_bubble-out); color: var(--_bubble-out-fg); }
ol.messages > li.out .meta { color: inherit; opacity: .8; }
ol.messages > li.mention { outline: 2px solid var(--_accent); background: var(--_hover); }
ol.messages > li[data-state="pending"] { opacity: .7; }
.meta { display: block; font-size: .72rem; color: var(--_muted); }
.nick { font-weight: 600; }
.badge { margin-inline-start: .3rem; padding: 0 .3rem; border-radius: 999px; background: var(--_accent); color: var(--_accent-fg); font-size: .68rem; }
.body { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.body a { color: inherit; }
ol.messages > li.retracted .body { font-style: italic; opacity: .75; }
button.remove { display: block; margin-top: .15rem; padding: 0; border: 0; font-size: .72rem; color: inherit; text-decoration: underline; opacity: .8; }
${bodyCSS}
aside { width: 14rem; flex: none; border-inline-start: 1px solid var(--_border); overflow-y: auto; padding: .5rem; }
aside h3 { margin: 0 0 .3rem; font-size: .85rem; }
aside h4 { margin: .5rem 0 .2rem; font-size: .72rem; text-transform: uppercase; letter-spacing: .04em; color: var(--_muted); }
aside ul { list-style: none; margin: 0; padding: 0; }
.occupant {
  display: flex; align-items: center; gap: .4rem; width: 100%; text-align: start; border: 0;
  padding: .25rem .4rem; color: inherit; border-radius: var(--_radius);
}
.occupant:hover { background: var(--_hover); }
.occupant .who { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.aff { font-size: .68rem; color: var(--_muted); border: 1px solid var(--_border); border-radius: 999px; padding: 0 .3rem; }
[role="menu"] {
  display: flex; flex-direction: column; margin: .2rem 0 .4rem 1rem; padding: .2rem;
  border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg);
}
[role="menuitem"] { border: 0; text-align: start; color: var(--_fg); }
[role="menuitem"]:hover, [role="menuitem"]:focus { background: var(--_hover); }
form.composer { display: flex; gap: .5rem; align-items: end; padding: .6rem .8rem; border-top: 1px solid var(--_border); }
form.composer textarea { flex: 1; resize: vertical; min-height: 2.4rem; }
.hint, .error { margin: 0; padding: 0 .8rem .5rem; font-size: .85rem; }
.hint { color: var(--_muted); }
.error { color: var(--_error); }
.hint:empty, .error:empty { display: none; }
@media (max-width: 40rem) { .area { flex-direction: column; } aside { width: auto; max-height: 10rem; border-inline-start: 0; border-top: 1px solid var(--_border); } }
</style>
<header part="header">
  <div class="heading">
    <h2 part="title" id="title"></h2>
    <p class="subject" part="subject"></p>
  </div>
  <div class="actions" part="actions">
    <button part="button" type="button" class="edit-subject" hidden></button>
    <button part="button" type="button" class="invite" aria-expanded="false"></button>
    <button part="button" type="button" class="leave"></button>
  </div>
</header>
<form class="inline-form subject-form" part="subject-form" hidden>
  <label><span class="l-subject"></span><input part="subject-input input" name="subject" maxlength="1024"></label>
  <button part="button" type="submit" class="primary save-subject"></button>
  <button part="button" type="button" class="cancel"></button>
</form>
<form class="inline-form nick-form" part="nick-form" hidden>
  <label><span class="l-nick"></span><input part="input" name="nick" maxlength="128" required autocapitalize="none" spellcheck="false"></label>
  <button part="button" type="submit" class="primary save-nick"></button>
  <button part="button" type="button" class="cancel"></button>
</form>
<form class="inline-form invite-form" part="invite-form" hidden>
  <label><span class="l-invite-jid"></span><input part="input" name="jid" type="email" required autocapitalize="none" spellcheck="false"></label>
  <label><span class="l-invite-reason"></span><input part="input" name="reason"></label>
  <button part="button" type="submit" class="primary send-invite"></button>
  <button part="button" type="button" class="cancel"></button>
</form>
<p class="notice" part="notice" role="status"></p>
<div class="area" part="body-area">
  <div class="logwrap">
    <button part="button more" type="button" class="more link"></button>
    <div class="log" part="log" role="log" aria-live="polite" aria-labelledby="title"><ol class="messages"></ol></div>
  </div>
  <aside part="occupants" aria-labelledby="occ-title">
    <h3 id="occ-title"></h3>
    <div class="groups"></div>
  </aside>
</div>
<form class="composer" part="composer">
  <label class="visually-hidden composer-label" for="input"></label>
  <textarea part="input" id="input" rows="2" aria-describedby="hint"></textarea>
  <button part="button" type="submit" class="primary send"></button>
</form>
<p class="hint" part="hint" id="hint"></p>
<p class="error" part="error" role="alert"></p>
`;

const roles = ['moderator', 'participant', 'visitor', 'none'];
const rank = { outcast: -1, none: 0, member: 1, admin: 2, owner: 3 };

/** One group chat room of the shared SparkWeb session. */
export class SparkWebRoom extends SparkWebElement {
  static observedAttributes = ['room'];

  #els;
  /** Ids of messages in the log, so a message seen twice (event, state, archive) shows once. */
  #shown = new Set();
  /** Archive pages loaded by scroll-back for the current room, oldest first. */
  #earlier = [];
  #complete = false;
  #loadingMore = false;
  #sending = false;
  /** The nick whose menu is open, or null. */
  #menuFor = null;
  /** Tab completion: {prefix, start, matches, i} while cycling through candidates. */
  #completion = null;
  #occupantsFrame = 0;
  /** Whether the log was rendered with moderators' "Remove message" buttons. */
  #moderating = false;

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      title: $('h2'),
      subject: $('.subject'),
      editSubject: $('.edit-subject'),
      invite: $('.invite'),
      leave: $('.leave'),
      subjectForm: $('.subject-form'),
      nickForm: $('.nick-form'),
      subjectInput: $('.subject-form input'),
      inviteForm: $('.invite-form'),
      notice: $('.notice'),
      more: $('.more'),
      log: $('.log'),
      list: $('ol.messages'),
      occTitle: $('#occ-title'),
      groups: $('.groups'),
      composer: $('form.composer'),
      composerLabel: $('.composer-label'),
      input: $('#input'),
      send: $('.send'),
      hint: $('.hint'),
      error: $('.error'),
    };
    const els = this.#els;
    els.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#send();
    });
    els.input.addEventListener('keydown', (e) => this.#onComposerKey(e));
    els.editSubject.addEventListener('click', () => this.#toggleForm(els.subjectForm, true));
    els.invite.addEventListener('click', () => this.#toggleForm(els.inviteForm, els.inviteForm.hidden));
    els.leave.addEventListener('click', () => this.#leaveOrJoin());
    els.more.addEventListener('click', () => this.#loadEarlier());
    els.log.addEventListener('scroll', () => {
      if (els.log.scrollTop === 0 && !this.#complete && this.#isJoined()) this.#loadEarlier();
    });
    for (const form of [els.subjectForm, els.nickForm, els.inviteForm]) {
      form.querySelector('.cancel').addEventListener('click', () => this.#toggleForm(form, false));
      form.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') this.#toggleForm(form, false);
      });
    }
    els.subjectForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#act('muc.subject', { room: this.room, subject: els.subjectInput.value }, () => this.#toggleForm(els.subjectForm, false));
    });
    els.nickForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const nick = els.nickForm.elements.nick.value.trim();
      if (nick) this.#act('muc.nick', { room: this.room, nick }, () => this.#toggleForm(els.nickForm, false));
    });
    els.inviteForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const data = new FormData(els.inviteForm);
      const jid = String(data.get('jid')).trim();
      const args = { room: this.room, jid };
      const reason = String(data.get('reason')).trim();
      if (reason) args.reason = reason;
      this.#act('muc.invite', args, () => {
        els.inviteForm.reset();
        this.#toggleForm(els.inviteForm, false);
        els.notice.textContent = this.text('room.invite.sent', { jid });
      });
    });
    els.groups.addEventListener('click', (e) => {
      const item = e.target.closest('[role="menuitem"]');
      if (item) {
        this.#menuAction(item.dataset.action, item.dataset.nick);
        return;
      }
      const occ = e.target.closest('button.occupant');
      if (occ) this.#toggleMenu(occ.dataset.nick);
    });
    els.groups.addEventListener('keydown', (e) => this.#onOccupantsKey(e));
    els.list.addEventListener('click', (e) => {
      const remove = e.target.closest('button.remove');
      if (remove) this.#moderate(remove.closest('li').dataset.id);
    });
  }

  /** The room's bare JID. */
  get room() {
    return bareJID(this.getAttribute('room') ?? '').toLowerCase();
  }

  set room(jid) {
    this.setAttribute('room', jid);
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    this.#earlier = [];
    this.#complete = false;
    this.#menuFor = null;
    this.#els.error.textContent = '';
    this.#els.notice.textContent = '';
    this.render();
  }

  connectFailed(err) {
    this.#els.error.textContent = this.text('room.failed', { error: err.message });
  }

  subscribe(client) {
    const mine = (data) => bareJID(data?.room ?? data?.jid ?? data?.with ?? '').toLowerCase() === this.room;
    return [
      client.on('session', () => this.#renderHeader()),
      client.on('room', (room) => {
        if (!mine(room)) return;
        this.#renderHeader();
        this.#renderOccupants(); // our role may have changed, or we left
      }),
      client.on('occupants', (data) => {
        if (mine(data) && !data.more) this.#scheduleOccupants();
      }),
      client.on('occupant', (data) => {
        if (mine(data)) this.#scheduleOccupants();
      }),
      client.on('message', (msg) => {
        if (msg.with === this.room) this.#append(msg);
      }),
      client.on('snapshot', () => this.render()),
    ];
  }

  /** @returns {import('./sparkweb.js').Room|undefined} */
  #roomState() {
    return this.client?.state.rooms?.find((r) => r.jid === this.room);
  }

  #isJoined() {
    return this.#roomState()?.state === 'joined' && this.client?.state.session.state === 'online';
  }

  #occupants() {
    return this.client?.state.occupants?.[this.room] ?? [];
  }

  /** Our own occupant entry (our nick's), for what we may do. */
  #self() {
    const room = this.#roomState();
    const me = this.#occupants().find((o) => o.nick === room?.nick);
    return { role: me?.role || room?.role || 'none', affiliation: me?.affiliation || room?.affiliation || 'none' };
  }

  render() {
    const els = this.#els;
    els.editSubject.textContent = this.text('room.subject.edit');
    els.invite.textContent = this.text('room.invite');
    els.send.textContent = this.text('room.send');
    for (const c of this.shadowRoot.querySelectorAll('.cancel')) c.textContent = this.text('room.cancel');
    this.$('.l-subject').textContent = this.text('room.subject.label');
    this.$('.l-invite-jid').textContent = this.text('room.invite.jid');
    this.$('.l-invite-reason').textContent = this.text('room.invite.reason');
    this.$('.save-subject').textContent = this.text('room.subject.save');
    this.$('.l-nick').textContent = this.text('room.nick.label');
    this.$('.save-nick').textContent = this.text('room.subject.save');
    this.$('.send-invite').textContent = this.text('room.invite.send');
    this.#renderHeader();
    this.#renderLog();
    this.#renderOccupants();
  }

  #renderHeader() {
    const els = this.#els;
    const jid = this.room;
    const room = this.#roomState();
    const session = this.client?.state.session.state;
    const online = session === 'online';
    els.title.textContent = jid ? room?.name || jid : this.text('room.title.none');
    els.title.title = jid;
    els.subject.textContent = room?.subject || (jid ? this.text('room.subject.none') : '');
    const joined = this.#isJoined();
    const self = this.#self();
    els.editSubject.hidden = !joined || self.role !== 'moderator';
    els.invite.hidden = !joined;
    if (!joined) {
      els.subjectForm.hidden = true;
      els.nickForm.hidden = true;
      els.inviteForm.hidden = true;
    }
    // One button: leave while in the room, join again after leaving or being removed.
    const canRejoin = online && !!room && (room.state === 'left' || room.state === 'error');
    els.leave.hidden = !jid || !(joined || room?.state === 'joining' || canRejoin);
    els.leave.textContent = joined || room?.state === 'joining' ? this.text('room.leave') : this.text('room.join');
    els.leave.dataset.action = joined || room?.state === 'joining' ? 'leave' : 'join';

    let hint = '';
    if (!this.client) hint = this.text('room.state.starting');
    else if (!online && session !== 'reconnecting') hint = this.text('room.state.offline');
    else if (jid && !room) hint = this.text('room.state.none');
    else if (room?.state === 'joining') hint = this.text('room.state.joining');
    else if (room && room.state !== 'joined') hint = this.text('room.state.left');
    els.hint.textContent = hint;
    // Removal (kick, ban, shutdown) or a failed join: say why, plainly.
    if (room?.error && room.state !== 'joined') els.error.textContent = roomErrorText(room.error, this.strings);
    else if (room?.state === 'joined' && els.error.dataset.from === 'room') els.error.textContent = '';
    els.error.dataset.from = room?.error ? 'room' : '';

    const name = room?.name || jid;
    els.composerLabel.textContent = this.text('room.composer.label', { room: name });
    els.input.disabled = !joined;
    els.send.disabled = !joined || this.#sending;
    els.more.textContent = this.#loadingMore
      ? this.text('room.more.loading')
      : this.#complete
        ? this.text('room.more.done')
        : this.text('room.more');
    els.more.disabled = !joined || this.#complete || this.#loadingMore;
    els.more.hidden = !jid;
  }

  #toggleForm(form, open) {
    form.hidden = !open;
    if (form === this.#els.inviteForm) this.#els.invite.setAttribute('aria-expanded', String(open));
    if (open) {
      if (form === this.#els.subjectForm) this.#els.subjectInput.value = this.#roomState()?.subject ?? '';
      if (form === this.#els.nickForm) form.elements.nick.value = this.#roomState()?.nick ?? '';
      form.querySelector('input').focus();
    } else if (form === this.#els.nickForm) {
      this.#els.input.focus();
    } else {
      (form === this.#els.inviteForm ? this.#els.invite : this.#els.editSubject).focus();
    }
  }

  /** Runs one op, showing its error; then() runs on success. */
  async #act(op, args, then) {
    this.#els.error.textContent = '';
    this.#els.error.dataset.from = '';
    try {
      const result = await this.client.request(op, args);
      then?.(result);
    } catch (err) {
      this.#els.error.textContent = this.text('room.failed', { error: roomErrorText(err, this.strings) });
    }
  }

  async #leaveOrJoin() {
    const room = this.#roomState();
    if (!this.client || !this.room) return;
    if (this.#els.leave.dataset.action === 'leave') {
      await this.#act('muc.leave', { room: this.room }, () =>
        this.dispatchEvent(new CustomEvent('sparkweb-leave', { bubbles: true, composed: true, detail: { jid: this.room } })),
      );
      return;
    }
    const bookmark = this.client.state.bookmarks?.find((b) => b.jid === this.room);
    const nick = room?.nick || bookmark?.nick || bareJID(this.client.state.session.jid).split('@')[0];
    const args = { room: this.room, nick };
    if (bookmark?.password) args.password = bookmark.password;
    await this.#act('muc.join', args);
  }

  // --- messages ---

  /** Renders the whole log at once: one DOM insertion and one layout, whatever its length. */
  #renderLog() {
    const { log, list } = this.#els;
    this.#shown.clear();
    this.#moderating = this.#self().role === 'moderator' && this.#isJoined();
    const frag = document.createDocumentFragment();
    // By id, the engine's current version winning over an archive page's.
    const byId = new Map();
    const live = this.room ? this.client?.state.conversations[this.room] ?? [] : [];
    for (const msg of [...(this.room ? this.#earlier : []), ...live]) byId.set(msg.id || byId.size, msg);
    const ts = (m) => m.timestamp ?? '';
    const all = [...byId.values()].sort((a, b) => (ts(a) < ts(b) ? -1 : ts(a) > ts(b) ? 1 : 0));
    for (const msg of all) {
      if (msg.id) this.#shown.add(msg.id);
      frag.append(this.#messageItem(msg));
    }
    list.replaceChildren(frag);
    log.scrollTop = log.scrollHeight;
  }

  /** Adds a message in timestamp order (archive pages arrive older than what is shown). */
  #append(msg) {
    const { log, list } = this.#els;
    if (msg.id && this.#shown.has(msg.id)) {
      const li = [...list.children].find((el) => el.dataset.id === msg.id);
      if (li) li.replaceWith(this.#messageItem(msg));
      return;
    }
    if (msg.id) this.#shown.add(msg.id);
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const li = this.#messageItem(msg);
    let next = null;
    for (let el = list.lastElementChild; el && el.dataset.ts > (msg.timestamp ?? ''); el = el.previousElementSibling) next = el;
    list.insertBefore(li, next);
    if (!next && (nearBottom || msg.outgoing)) log.scrollTop = log.scrollHeight;
  }

  #messageItem(msg) {
    const li = document.createElement('li');
    const mention = !msg.outgoing && !!msg.mentioned;
    const gone = !!(msg.retracted || msg.moderated);
    li.className = `${msg.outgoing ? 'out' : 'in'}${mention ? ' mention' : ''}${gone ? ' retracted' : ''}`;
    const pending = msg.outgoing && msg.state === 'pending';
    const removed = msg.moderated ? ' message-moderated' : msg.retracted ? ' message-retracted' : '';
    li.setAttribute('part', `message ${msg.outgoing ? 'message-out' : 'message-in'}${mention ? ' message-mention' : ''}${pending ? ' message-pending' : ''}${removed}`);
    if (msg.id) li.dataset.id = msg.id;
    li.dataset.ts = msg.timestamp ?? '';
    if (msg.state) li.dataset.state = msg.state;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.setAttribute('part', 'meta');
    const nick = document.createElement('span');
    nick.className = 'nick';
    nick.setAttribute('part', 'nick');
    nick.textContent = msg.outgoing ? this.text('room.you') : msg.nick || nickOf(msg.from) || this.room;
    meta.append(nick);
    const at = formatTime(msg.timestamp);
    if (at) {
      const time = document.createElement('time');
      time.setAttribute('part', 'time');
      time.dateTime = msg.timestamp;
      time.textContent = ` · ${at}`;
      meta.append(time);
    }
    if (mention) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.setAttribute('part', 'mention-badge');
      badge.textContent = this.text('room.mention');
      meta.append(badge);
    }
    if (pending) meta.append(` · ${this.text('room.pending')}`);
    const body = document.createElement('div');
    body.className = 'body';
    body.setAttribute('part', 'body');
    if (msg.moderated) {
      const reason = msg.moderated.reason;
      body.textContent = reason ? this.text('room.moderatedReason', { reason }) : this.text('room.moderated');
    } else if (msg.retracted) {
      body.textContent = this.text('room.retracted');
    } else {
      body.append(renderBody(msg, { imageAlt: this.text('room.image') }));
    }
    li.append(meta, body);
    // Moderators remove others' messages (their own they retract like any author).
    if (this.#moderating && !gone && !msg.outgoing && msg.id && msg.type === 'groupchat') {
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'remove';
      remove.setAttribute('part', 'message-action');
      remove.textContent = this.text('room.message.remove');
      li.append(remove);
    }
    return li;
  }

  async #loadEarlier() {
    if (this.#loadingMore || this.#complete || !this.client || !this.room) return;
    this.#loadingMore = true;
    this.#renderHeader();
    const room = this.room;
    const args = { with: room, limit: 50 };
    const oldest = [...this.#earlier, ...(this.client.state.conversations[room] ?? [])]
      .filter((m) => m.stanzaId)
      .sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1))[0];
    if (oldest) args.before = oldest.stanzaId;
    const log = this.#els.log;
    const fromBottom = log.scrollHeight - log.scrollTop;
    try {
      const { messages = [], complete } = await this.client.request('chat.history', args);
      if (room !== this.room) return;
      this.#earlier = [...messages, ...this.#earlier];
      this.#complete = !!complete || messages.length === 0;
      for (const msg of messages) this.#append(msg);
      log.scrollTop = log.scrollHeight - fromBottom; // keep what the user was reading in place
    } catch (err) {
      this.#els.error.textContent = this.text('room.failed', { error: roomErrorText(err, this.strings) });
    } finally {
      this.#loadingMore = false;
      this.#renderHeader();
    }
  }

  /** Removes another occupant's message as a moderator (XEP-0425), with the reason asked for. */
  async #moderate(id) {
    if (!id || !this.client) return;
    const reason = prompt(this.text('room.message.removeReason'));
    if (reason === null) return; // cancelled
    const args = { room: this.room, id };
    if (reason.trim()) args.reason = reason.trim();
    await this.#act('muc.moderate', args);
  }

  // --- composer ---

  #onComposerKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.#send();
      return;
    }
    if (e.key === 'Tab' && !e.shiftKey && this.#complete_nick()) {
      e.preventDefault();
      return;
    }
    if (e.key !== 'Tab' && e.key !== 'Shift') this.#completion = null;
  }

  /** Completes the word before the caret to an occupant's nick; Tab again cycles. */
  #complete_nick() {
    const input = this.#els.input;
    const caret = input.selectionStart;
    if (caret !== input.selectionEnd) return false;
    let c = this.#completion;
    if (!c) {
      const before = input.value.slice(0, caret);
      const prefix = /(\S+)$/.exec(before)?.[1];
      if (!prefix) return false;
      const own = this.#roomState()?.nick;
      const lower = prefix.toLowerCase();
      const matches = this.#occupants()
        .map((o) => o.nick)
        .filter((n) => n !== own && n.toLowerCase().startsWith(lower))
        .sort((a, b) => a.localeCompare(b));
      if (matches.length === 0) return false;
      c = this.#completion = { start: caret - prefix.length, end: caret, matches, i: -1 };
    }
    c.i = (c.i + 1) % c.matches.length;
    const suffix = c.start === 0 ? ': ' : ' ';
    const text = c.matches[c.i] + suffix;
    input.value = input.value.slice(0, c.start) + text + input.value.slice(c.end);
    c.end = c.start + text.length;
    input.setSelectionRange(c.end, c.end);
    return true;
  }

  async #send() {
    const { input } = this.#els;
    const body = input.value;
    if (!body.trim() || this.#sending || !this.client || !this.#isJoined()) return;
    this.#sending = true;
    this.#els.error.textContent = '';
    this.#renderHeader();
    try {
      await this.client.request('chat.send', { to: this.room, body });
      if (input.value === body) input.value = '';
    } catch (err) {
      this.#els.error.textContent = this.text('room.notsent', { error: roomErrorText(err, this.strings) });
    } finally {
      this.#sending = false;
      this.#renderHeader();
      input.focus();
    }
  }

  // --- occupants ---

  /** Renders the occupants once per frame: a busy room sends many presence changes at once. */
  #scheduleOccupants() {
    if (this.#occupantsFrame) return;
    this.#occupantsFrame = requestAnimationFrame(() => {
      this.#occupantsFrame = 0;
      this.#renderOccupants();
    });
  }

  #renderOccupants() {
    const { groups, occTitle } = this.#els;
    // Our role changed (or we left): the log's "Remove message" buttons follow.
    if ((this.#self().role === 'moderator' && this.#isJoined()) !== this.#moderating) this.#renderLog();
    const focusedNick = this.shadowRoot.activeElement?.dataset?.nick;
    const focusedAction = this.shadowRoot.activeElement?.dataset?.action;
    const list = this.#isJoined() || this.#roomState()?.state === 'joining' ? this.#occupants() : [];
    occTitle.textContent = this.text('room.occupants', { count: list.length });
    const own = this.#roomState()?.nick;
    const self = this.#self();
    const byRole = new Map(roles.map((r) => [r, []]));
    for (const o of list) (byRole.get(o.role) ?? byRole.get('none')).push(o);
    const frag = document.createDocumentFragment();
    for (const [role, items] of byRole) {
      if (items.length === 0) continue;
      const h = document.createElement('h4');
      h.id = `role-${role}`;
      h.setAttribute('part', 'occupant-group-name');
      h.textContent = this.text(`room.role.${role}`);
      const ul = document.createElement('ul');
      ul.setAttribute('part', 'occupant-group');
      ul.setAttribute('aria-labelledby', h.id);
      items.sort((a, b) => a.nick.localeCompare(b.nick, undefined, { sensitivity: 'base' }));
      for (const o of items) {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'occupant';
        button.dataset.nick = o.nick;
        button.setAttribute('part', o.nick === own ? 'occupant occupant-self' : 'occupant');
        button.setAttribute('aria-haspopup', 'menu');
        button.setAttribute('aria-expanded', String(this.#menuFor === o.nick));
        button.tabIndex = -1;
        button.title = [o.jid, o.status].filter(Boolean).join(' — ');
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.dataset.show = o.show || 'available';
        dot.setAttribute('part', 'presence');
        dot.setAttribute('aria-hidden', 'true');
        const who = document.createElement('span');
        who.className = 'who';
        who.textContent = o.nick === own ? `${o.nick} ${this.text('room.self')}` : o.nick;
        button.append(dot, who);
        const affKey = `room.affiliation.${o.affiliation}`;
        if (o.affiliation && o.affiliation !== 'none') {
          const aff = document.createElement('span');
          aff.className = 'aff';
          aff.setAttribute('part', 'affiliation');
          aff.textContent = this.text(affKey);
          button.append(aff);
        }
        li.append(button);
        if (this.#menuFor === o.nick) li.append(this.#menu(o, self, own));
        ul.append(li);
      }
      frag.append(h, ul);
    }
    if (this.#menuFor && !list.some((o) => o.nick === this.#menuFor)) this.#menuFor = null;
    groups.replaceChildren(frag);
    const buttons = [...groups.querySelectorAll('button.occupant')];
    const keep = buttons.find((b) => b.dataset.nick === focusedNick) ?? buttons[0];
    if (keep) keep.tabIndex = 0;
    if (focusedNick) {
      const again = focusedAction
        ? groups.querySelector(`[role="menuitem"][data-action="${focusedAction}"]`)
        : keep;
      again?.focus();
    }
  }

  /** The actions we may take on occupant o, per XEP-0045's role and affiliation rules. */
  #actions(o, self, own) {
    if (o.nick === own) return ['nick'];
    const actions = ['mention', 'pm'];
    const moderator = self.role === 'moderator';
    const theirs = rank[o.affiliation] ?? 0;
    const mine = rank[self.affiliation] ?? 0;
    // Admins and owners cannot be kicked or silenced; a moderator acts on those below.
    if (moderator && theirs < rank.admin) {
      if (o.role === 'visitor') actions.push('voice');
      if (o.role === 'participant') actions.push('devoice');
      actions.push('kick');
    }
    if (mine >= rank.admin && o.role !== 'moderator' && theirs < rank.admin) actions.push('moderator');
    // Banning needs the real JID and a higher affiliation than theirs.
    if (mine >= rank.admin && theirs < mine && o.jid) actions.push('ban');
    return actions;
  }

  #menu(o, self, own) {
    const menu = document.createElement('div');
    menu.setAttribute('role', 'menu');
    menu.setAttribute('part', 'menu');
    menu.setAttribute('aria-label', this.text('room.occupant.menu', { nick: o.nick }));
    for (const action of this.#actions(o, self, own)) {
      const item = document.createElement('button');
      item.type = 'button';
      item.setAttribute('role', 'menuitem');
      item.setAttribute('part', 'menuitem');
      item.tabIndex = -1;
      item.dataset.action = action;
      item.dataset.nick = o.nick;
      item.textContent = this.text(`room.action.${action}`);
      menu.append(item);
    }
    return menu;
  }

  #toggleMenu(nick) {
    this.#menuFor = this.#menuFor === nick ? null : nick;
    this.#renderOccupants();
    const groups = this.#els.groups;
    if (this.#menuFor) groups.querySelector('[role="menuitem"]')?.focus();
    else [...groups.querySelectorAll('button.occupant')].find((b) => b.dataset.nick === nick)?.focus();
  }

  #onOccupantsKey(e) {
    const groups = this.#els.groups;
    if (e.target.getAttribute('role') === 'menuitem') {
      const items = [...groups.querySelectorAll('[role="menuitem"]')];
      const i = items.indexOf(e.target);
      const next = { ArrowDown: items[(i + 1) % items.length], ArrowUp: items[(i - 1 + items.length) % items.length], Home: items[0], End: items.at(-1) }[e.key];
      if (next) {
        e.preventDefault();
        next.focus();
      } else if (e.key === 'Escape' || e.key === 'Tab') {
        if (e.key === 'Escape') e.preventDefault();
        this.#toggleMenu(this.#menuFor);
      }
      return;
    }
    const buttons = [...groups.querySelectorAll('button.occupant')];
    const i = buttons.indexOf(e.target);
    if (i < 0) return;
    const target = { ArrowDown: buttons[Math.min(i + 1, buttons.length - 1)], ArrowUp: buttons[Math.max(i - 1, 0)], Home: buttons[0], End: buttons.at(-1) }[e.key];
    if (!target) return;
    e.preventDefault();
    for (const b of buttons) b.tabIndex = b === target ? 0 : -1;
    target.focus();
  }

  async #menuAction(action, nick) {
    const o = this.#occupants().find((x) => x.nick === nick);
    this.#menuFor = null;
    this.#renderOccupants();
    if (!o) return;
    if (action === 'nick') {
      this.#toggleForm(this.#els.nickForm, true);
      return;
    }
    if (action === 'pm') {
      const detail = { jid: `${this.room}/${nick}`, kind: 'chat' };
      this.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail }));
      return;
    }
    if (action === 'mention') {
      const input = this.#els.input;
      const sep = input.value && !/\s$/.test(input.value) ? ' ' : '';
      input.value += input.value ? `${sep}${nick} ` : `${nick}: `;
      input.focus();
      return;
    }
    const room = this.room;
    const ops = {
      kick: ['muc.role', { room, nick, role: 'none' }],
      voice: ['muc.role', { room, nick, role: 'participant' }],
      devoice: ['muc.role', { room, nick, role: 'visitor' }],
      moderator: ['muc.role', { room, nick, role: 'moderator' }],
      ban: ['muc.affiliation', { room, jid: bareJID(o.jid ?? ''), affiliation: 'outcast' }],
    };
    const [op, args] = ops[action] ?? [];
    if (!op) return;
    await this.#act(op, args, () => {
      this.#els.notice.textContent = this.text(`room.action.done.${action}`, { nick });
    });
  }
}

/** The resource part of a full JID (a room occupant's nick). */
function nickOf(jid) {
  const slash = (jid || '').indexOf('/');
  return slash < 0 ? '' : jid.slice(slash + 1);
}

if (!customElements.get('sparkweb-room')) customElements.define('sparkweb-room', SparkWebRoom);
