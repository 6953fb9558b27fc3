// <sparkweb-profile>: our own profile (vCard, XEP-0292 or XEP-0054 as the server offers) and
// avatar (XEP-0084), editable; <sparkweb-profile jid="bob@example.org">: a contact's, read only.
//
// A picked image is scaled down to at most 256×256 pixels in the tab (large photos make every
// contact download them) and published with avatar.set; "Remove" deletes it. Avatars are shown from
// Blob URLs of the bytes the engine returns (cached there by hash), never from network URLs.
// Attributes: `jid` (bare JID of a contact; none for our own profile).
// Properties: `strings` (per-element text overrides, keys "profile.*", see i18n.js).
// Parts: header, avatar, avatar-image, avatar-placeholder, avatar-input, title, form, field, label,
// input, button, details, term, value, empty, status, error.
import { bareJID, themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';

defineStrings({
  'profile.title.own': 'Your profile',
  'profile.title.contact': 'Profile of {jid}',
  'profile.field.fn': 'Full name',
  'profile.field.nickname': 'Nickname',
  'profile.field.email': 'Email',
  'profile.field.tel': 'Phone',
  'profile.field.url': 'Website',
  'profile.field.org': 'Organisation',
  'profile.field.title': 'Job title',
  'profile.field.birthday': 'Birthday',
  'profile.field.note': 'About',
  'profile.save': 'Save profile',
  'profile.saved': 'Profile saved.',
  'profile.saving': 'Saving…',
  'profile.loading': 'Loading profile…',
  'profile.empty': 'No profile information.',
  'profile.offline': 'Sign in to see profiles.',
  'profile.avatar.alt': 'Avatar of {jid}',
  'profile.avatar.none': 'No avatar',
  'profile.avatar.choose': 'Choose picture…',
  'profile.avatar.remove': 'Remove picture',
  'profile.avatar.saved': 'Picture updated.',
  'profile.avatar.removed': 'Picture removed.',
  'profile.avatar.bad': 'That file is not an image this browser can read.',
  'profile.failed': 'Failed: {error}',
});

/** The vCard fields shown, in order; `note` is multi-line. */
const fields = ['fn', 'nickname', 'email', 'tel', 'url', 'org', 'title', 'birthday', 'note'];
const inputTypes = { email: 'email', tel: 'tel', url: 'url', birthday: 'date' };
/** Longest side of a published avatar, in pixels. */
const AVATAR_SIZE = 256;

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: block; background: var(--_bg); }
header { display: flex; align-items: center; gap: .8rem; margin-bottom: .8rem; }
h2 { margin: 0; font-size: 1.05rem; overflow-wrap: anywhere; }
.avatar { display: flex; flex-direction: column; align-items: center; gap: .3rem; }
.pic {
  width: 96px; height: 96px; border-radius: 50%; object-fit: cover; background: var(--_hover);
  display: grid; place-items: center; color: var(--_muted); font-size: .75rem; text-align: center;
}
.avatar-tools { display: flex; gap: .3rem; flex-wrap: wrap; justify-content: center; }
button, .file {
  padding: .35rem .8rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: transparent; color: var(--_accent); cursor: pointer; font-size: .85rem;
}
button[type="submit"] { background: var(--_accent); color: var(--_accent-fg); }
.file:focus-within { outline: 2px solid var(--_focus); outline-offset: 2px; }
.file input { position: absolute; width: 1px; height: 1px; opacity: 0; }
:disabled { opacity: .6; cursor: not-allowed; }
form { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .6rem .8rem; }
.field { display: flex; flex-direction: column; gap: .15rem; }
.field.wide { grid-column: 1 / -1; }
label { font-size: .8rem; color: var(--_muted); }
input, textarea { padding: .4rem .55rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg); }
textarea { resize: vertical; min-height: 4rem; }
.actions { grid-column: 1 / -1; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem .8rem; margin: 0; }
dt { color: var(--_muted); font-size: .85rem; }
dd { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
.status, .empty { color: var(--_muted); margin: .5rem 0 0; }
.error { color: var(--_error); margin: .5rem 0 0; }
.status:empty, .error:empty { display: none; }
</style>
<header part="header">
  <div class="avatar" part="avatar">
    <img class="pic" part="avatar-image" hidden>
    <span class="pic placeholder" part="avatar-placeholder"></span>
    <div class="avatar-tools" hidden>
      <label class="file" part="button"><span class="choose"></span><input part="avatar-input" type="file" accept="image/*"></label>
      <button part="button" type="button" class="remove"></button>
    </div>
  </div>
  <h2 part="title"></h2>
</header>
<form part="form" hidden></form>
<dl part="details" hidden></dl>
<p class="empty" part="empty" hidden></p>
<p class="status" part="status" role="status"></p>
<p class="error" part="error" role="alert"></p>
`;

/** A vCard and avatar of the shared SparkWeb session: our own, editable, or a contact's. */
export class SparkWebProfile extends SparkWebElement {
  static observedAttributes = ['jid'];

  #els;
  /** The profile last loaded, for the JID it belongs to. */
  #profile = null;
  #profileFor = '';
  /** The avatar shown: {jid, hash, url} (url a Blob URL this element owns, "" for none). */
  #avatar = null;
  /** The avatar being fetched: {jid, hash}, or null. */
  #fetching = null;
  #loading = false;
  /** The form holds edits not saved yet: a profile event from another tab must not overwrite them. */
  #dirty = false;

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = {
      img: $('img.pic'),
      placeholder: $('.placeholder'),
      tools: $('.avatar-tools'),
      choose: $('.choose'),
      file: $('input[type="file"]'),
      remove: $('button.remove'),
      title: $('h2'),
      form: $('form'),
      dl: $('dl'),
      status: $('.status'),
      error: $('.error'),
    };
    this.#buildForm();
    this.#els.form.addEventListener('input', () => (this.#dirty = true));
    this.#els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
    this.#els.file.addEventListener('change', () => {
      const file = this.#els.file.files?.[0];
      this.#els.file.value = '';
      if (file) this.#setAvatar(file);
    });
    this.#els.remove.addEventListener('click', () => this.#removeAvatar());
  }

  /** The contact's bare JID, or "" for our own profile. */
  get jid() {
    return bareJID(this.getAttribute('jid') ?? '');
  }

  set jid(value) {
    if (value) this.setAttribute('jid', value);
    else this.removeAttribute('jid');
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    this.#profile = null;
    this.#els.status.textContent = '';
    this.#els.error.textContent = '';
    this.#load();
  }

  connectFailed(err) {
    this.#els.error.textContent = this.text('profile.failed', { error: err.message });
  }

  subscribe(client) {
    this.#load();
    return [
      client.on('session', () => this.#load()),
      client.on('snapshot', () => this.#load()),
      // Our profile saved from another tab (or this one).
      client.on('profile', (data) => {
        if (data?.jid !== this.#subject()) return;
        this.#profile = data;
        this.#profileFor = data.jid;
        if (!this.#dirty) this.#fillForm();
        this.render();
      }),
      client.on('avatar', (data) => {
        if (data.jid === this.#subject()) this.#loadAvatar();
      }),
    ];
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    this.#showAvatar(null);
  }

  /** The bare JID whose profile this shows. */
  #subject() {
    return this.jid || bareJID(this.client?.state.session.jid ?? '');
  }

  #online() {
    return this.client?.state.session.state === 'online';
  }

  #buildForm() {
    const form = this.#els.form;
    for (const f of fields) {
      const div = document.createElement('div');
      div.className = f === 'note' ? 'field wide' : 'field';
      div.setAttribute('part', 'field');
      const label = document.createElement('label');
      label.setAttribute('part', 'label');
      label.htmlFor = `f-${f}`;
      label.dataset.key = `profile.field.${f}`;
      const input = document.createElement(f === 'note' ? 'textarea' : 'input');
      input.id = `f-${f}`;
      input.name = f;
      input.setAttribute('part', 'input');
      if (inputTypes[f]) input.type = inputTypes[f];
      if (f === 'email') input.autocomplete = 'email';
      if (f === 'tel') input.autocomplete = 'tel';
      if (f === 'fn') input.autocomplete = 'name';
      div.append(label, input);
      form.append(div);
    }
    const actions = document.createElement('div');
    actions.className = 'actions';
    const save = document.createElement('button');
    save.type = 'submit';
    save.setAttribute('part', 'button');
    save.className = 'save';
    actions.append(save);
    form.append(actions);
  }

  /** Loads the profile and avatar of the current subject when online and not loaded yet. */
  async #load() {
    this.render();
    const jid = this.#subject();
    if (!this.#online() || !jid) return;
    this.#loadAvatar();
    if (this.#loading || (this.#profile && this.#profileFor === jid)) return;
    this.#loading = true;
    this.render();
    try {
      const profile = await this.client.request('profile.get', this.jid ? { jid } : {});
      if (jid !== this.#subject()) return;
      this.#profile = profile ?? {};
      this.#profileFor = jid;
      this.#fillForm();
    } catch (err) {
      // No vCard at all is an empty profile, not an error.
      if (err.code === 'item-not-found') {
        this.#profile = {};
        this.#profileFor = jid;
        this.#fillForm();
      } else {
        this.#els.error.textContent = this.text('profile.failed', { error: err.message || err.code });
      }
    } finally {
      this.#loading = false;
      this.render();
    }
  }

  #fillForm() {
    this.#dirty = false;
    for (const f of fields) this.#els.form.elements[f].value = this.#profile?.[f] ?? '';
  }

  render() {
    const els = this.#els;
    const own = !this.jid;
    const jid = this.#subject();
    const online = this.#online();
    els.title.textContent = own ? this.text('profile.title.own') : this.text('profile.title.contact', { jid });
    for (const label of els.form.querySelectorAll('label[data-key]')) label.textContent = this.text(label.dataset.key);
    els.form.querySelector('.save').textContent = this.text('profile.save');
    els.choose.textContent = this.text('profile.avatar.choose');
    els.remove.textContent = this.text('profile.avatar.remove');
    els.placeholder.textContent = this.text('profile.avatar.none');
    els.img.alt = this.text('profile.avatar.alt', { jid });
    const loaded = !!this.#profile && this.#profileFor === jid;
    els.form.hidden = !own || !loaded;
    for (const el of els.form.elements) el.disabled = !online;
    els.tools.hidden = !own || !online;
    els.remove.disabled = !this.#avatar?.url;
    els.dl.hidden = own || !loaded;
    if (els.dl.hidden) this.$('.empty').hidden = true;
    if (!own && loaded) this.#renderDetails();
    if (!this.client || this.#loading) els.status.textContent = this.text('profile.loading');
    else if (!online) els.status.textContent = this.text('profile.offline');
    else if (els.status.textContent === this.text('profile.loading') || els.status.textContent === this.text('profile.offline')) els.status.textContent = '';
  }

  #renderDetails() {
    const dl = this.#els.dl;
    dl.replaceChildren();
    for (const f of fields) {
      const value = this.#profile?.[f];
      if (!value) continue;
      const dt = document.createElement('dt');
      dt.setAttribute('part', 'term');
      dt.textContent = this.text(`profile.field.${f}`);
      const dd = document.createElement('dd');
      dd.setAttribute('part', 'value');
      dd.dataset.field = f;
      const href = f === 'url' ? safeURL(value) : f === 'email' && /^[^\s@]+@[^\s@]+$/.test(value) ? `mailto:${value}` : '';
      if (href) {
        const a = document.createElement('a');
        a.href = href;
        a.rel = 'noopener noreferrer nofollow';
        if (f === 'url') a.target = '_blank';
        a.textContent = value;
        dd.append(a);
      } else {
        dd.textContent = value;
      }
      dl.append(dt, dd);
    }
    // An empty <dl> is allowed; a lone <dd> is not: say it outside the list.
    const empty = this.$('.empty');
    empty.textContent = this.text('profile.empty');
    empty.hidden = dl.children.length > 0;
  }

  async #save() {
    const els = this.#els;
    const args = {};
    for (const f of fields) args[f] = els.form.elements[f].value.trim();
    els.error.textContent = '';
    els.status.textContent = this.text('profile.saving');
    try {
      const saved = await this.client.request('profile.set', args);
      this.#profile = saved ?? { ...this.#profile, ...args };
      this.#dirty = false;
      els.status.textContent = this.text('profile.saved');
    } catch (err) {
      els.status.textContent = '';
      els.error.textContent = this.text('profile.failed', { error: err.message || err.code });
    }
  }

  /** Fetches the subject's avatar when its hash (in the engine's state) differs from the one shown. */
  async #loadAvatar() {
    if (!this.#online()) return;
    const jid = this.#subject();
    const hash = this.client.state.avatars?.[jid] ?? '';
    const shown = this.#avatar;
    if (shown?.jid === jid && shown.hash === hash) return;
    if (this.#fetching?.jid === jid && this.#fetching.hash === hash) return;
    if (shown?.jid === jid && !hash) {
      this.#showAvatar({ jid, hash, url: '' }); // removed
      return;
    }
    // Asked even without a known hash: the snapshot may predate the contact's presence.
    const token = (this.#fetching = { jid, hash });
    try {
      const a = await this.client.request('avatar.get', { jid });
      if (this.#fetching !== token) return;
      this.#showAvatar({ jid, hash, url: a?.data ? URL.createObjectURL(base64Blob(a.data, a.type)) : '' });
    } catch (err) {
      if (this.#fetching !== token) return;
      this.#showAvatar({ jid, hash, url: '' });
      if (err.code !== 'item-not-found') this.#els.error.textContent = this.text('profile.failed', { error: err.message || err.code });
    } finally {
      if (this.#fetching === token) this.#fetching = null;
    }
  }

  /** Shows avatar (or the placeholder for null), releasing the Blob URL shown before. */
  #showAvatar(avatar) {
    if (this.#avatar?.url && this.#avatar.url !== avatar?.url) URL.revokeObjectURL(this.#avatar.url);
    this.#avatar = avatar;
    const { img, placeholder, remove } = this.#els;
    if (avatar?.url) img.src = avatar.url;
    else img.removeAttribute('src');
    img.hidden = !avatar?.url;
    placeholder.hidden = !!avatar?.url;
    remove.disabled = !avatar?.url;
  }

  async #setAvatar(file) {
    const els = this.#els;
    els.error.textContent = '';
    let picture;
    try {
      picture = await scaleImage(file);
    } catch {
      els.error.textContent = this.text('profile.avatar.bad');
      return;
    }
    els.status.textContent = this.text('profile.saving');
    try {
      const data = await blobBase64(picture);
      await this.client.request('avatar.set', { type: picture.type, data });
      const jid = this.#subject();
      this.#showAvatar({ jid, hash: this.client.state.avatars?.[jid] ?? '', url: URL.createObjectURL(picture) });
      els.status.textContent = this.text('profile.avatar.saved');
    } catch (err) {
      els.status.textContent = '';
      els.error.textContent = this.text('profile.failed', { error: err.message || err.code });
    }
  }

  async #removeAvatar() {
    const els = this.#els;
    els.error.textContent = '';
    try {
      await this.client.request('avatar.set', {});
      this.#showAvatar({ jid: this.#subject(), hash: '', url: '' });
      els.status.textContent = this.text('profile.avatar.removed');
    } catch (err) {
      els.error.textContent = this.text('profile.failed', { error: err.message || err.code });
    }
  }
}

/** An http(s) URL from a profile, or "" for anything else (javascript:, data:, garbage). */
function safeURL(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '';
  } catch {
    return '';
  }
}

/**
 * The picture to publish: the file itself when it is small enough, otherwise redrawn at most
 * AVATAR_SIZE pixels on its longest side as PNG. Rejects for a file that is not a readable image.
 * @param {Blob} file
 * @returns {Promise<Blob>}
 */
async function scaleImage(file) {
  const bitmap = await createImageBitmap(file);
  try {
    const scale = Math.min(1, AVATAR_SIZE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && /^image\/(png|jpeg|gif|webp)$/.test(file.type)) return file;
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('cannot encode the picture'))), 'image/png'),
    );
  } finally {
    bitmap.close();
  }
}

/** A Blob's bytes as base64. */
async function blobBase64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A Blob from base64 data; the type is kept only when it is an image type. */
function base64Blob(data, type) {
  const bin = atob(data ?? '');
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: /^image\/[\w.+-]+$/.test(type ?? '') ? type : 'application/octet-stream' });
}

if (!customElements.get('sparkweb-profile')) customElements.define('sparkweb-profile', SparkWebProfile);
