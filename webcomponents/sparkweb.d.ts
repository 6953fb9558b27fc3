// TypeScript declarations for SparkWeb's façade (webcomponents/sparkweb.js) and its elements
// (webcomponents/sparkweb-*.js). The JSON protocol itself is described in docs/protocol.md; the
// elements in docs/elements/ and webcomponents/custom-elements.json.

/** An error value of the protocol: a stable code and English prose. */
export interface ErrorValue {
  code: string;
  message: string;
}

export type SessionState = 'offline' | 'connecting' | 'online' | 'reconnecting' | 'auth-failed';

export interface Session {
  state: SessionState;
  /** The full JID while online; the bare JID while connecting or after a failure; "" signed out. */
  jid: string;
  error?: ErrorValue;
}

export interface RosterItem {
  jid: string;
  name: string;
  subscription: 'none' | 'to' | 'from' | 'both' | 'remove';
  ask: boolean;
  groups: string[];
}

export type Show = 'available' | 'chat' | 'away' | 'xa' | 'dnd' | 'unavailable';

export interface Presence {
  jid: string;
  bare: string;
  show: Show;
  status: string;
  priority: number;
  idleSince?: string;
  /** Entity capabilities (XEP-0115) verification string. */
  caps?: string;
}

/** A span of a styled body (XEP-0393): plain text, to be shown with textContent. */
export interface Span {
  text: string;
  kinds?: Array<'strong' | 'emphasis' | 'strike' | 'code' | 'pre' | 'quote' | 'directive'>;
  quote?: number;
}

export interface Message {
  id: string;
  from: string;
  to: string;
  /**
   * The conversation: a contact's or a room's bare JID, or a room occupant's full JID
   * (room@service/nick) for private messages through the room.
   */
  with: string;
  body: string;
  /** RFC 3339, UTC, with milliseconds. */
  timestamp: string;
  outgoing: boolean;
  stanzaId?: string;
  state?: 'pending' | 'sent' | 'delivered' | 'read' | 'error';
  error?: ErrorValue;
  correctedAt?: string;
  retracted?: boolean;
  /** Removed by a room moderator (XEP-0425): `by` the moderator's occupant JID. */
  moderated?: { by?: string; reason?: string };
  reactions?: Record<string, string[]>;
  replyTo?: { id: string; to?: string };
  styled?: Span[];
  /** "groupchat" for room messages; "chat" for private messages through a room. */
  type?: string;
  /** The sender's nick in a room (also on private messages through a room). */
  nick?: string;
  /** The author's stable occupant id (XEP-0421), where the room gives trusted ones. */
  occupantId?: string;
  /** The body names our nick, or a reference points at us (rooms). */
  mentioned?: boolean;
  oob?: { url: string; desc?: string };
}

export interface Subscription {
  jid: string;
  type: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
  status?: string;
}

export interface Room {
  jid: string;
  name: string;
  nick: string;
  subject: string;
  state: 'joining' | 'joined' | 'left' | 'error';
  role: string;
  affiliation: string;
  error?: ErrorValue;
}

export interface Occupant {
  nick: string;
  jid?: string;
  /** The room's stable id of this occupant (XEP-0421), where the room gives trusted ones. */
  occupantId?: string;
  role: string;
  affiliation: string;
  show: string;
  status: string;
}

export interface Bookmark {
  jid: string;
  name: string;
  nick: string;
  autojoin: boolean;
  password?: string;
}

/** The façade's live mirror of the engine's state (client.state); read-only for callers. */
export interface State {
  session: Session;
  roster: RosterItem[];
  presence: Presence[];
  /** Messages by conversation (bare JID), oldest first. */
  conversations: Record<string, Message[]>;
  /** Subscription requests awaiting an answer. */
  requests: Subscription[];
  /** The peer's chat state by conversation, while not active. */
  chatstates: Record<string, string>;
  /** The last message this account marked displayed, by conversation (this tab's lifetime). */
  displayed: Record<string, string>;
  rooms: Room[];
  occupants: Record<string, Occupant[]>;
  bookmarks: Bookmark[];
  /** Avatar hash by bare JID. */
  avatars: Record<string, string>;
  /** Blocked JIDs. */
  blocked: string[];
}

/** An error answered by the engine; `code` is one of the stable codes of docs/protocol.md. */
export class SparkWebError extends Error {
  constructor(code: string, message: string);
  name: 'SparkWebError';
  code: string;
}

/** A tab's connection to the engine; get it with connect(). */
export interface Client {
  /** The tab's id in the protocol. */
  readonly tab: string;
  /** The build version this page runs. */
  readonly version: string;
  /** Where the engine runs. */
  readonly mode: 'shared' | 'leader' | 'follower' | null;
  /** Live mirror of the engine's state, updated before event handlers run. */
  readonly state: State;
  /** Sends one request; rejects with a SparkWebError. */
  request<T = any>(op: string, args?: object): Promise<T>;
  /** Subscribes to an engine event, or every event with "*"; returns the unsubscribe function. */
  on(event: string, handler: (data: any, event: string) => void): () => void;
}

export interface ConnectOptions {
  workerURL?: string | URL;
  versionURL?: string | URL;
  reloadOnUpgrade?: boolean;
}

/** The page's one client, attached to the shared engine and initialised from its snapshot. */
export function connect(options?: ConnectOptions): Promise<Client>;
/** This build's version (static/version.json), "dev" without one. */
export function buildVersion(url?: string | URL): Promise<string>;
/** Registers static/sw.js (offline start, push notifications); null where unavailable. */
export function registerServiceWorker(options?: { scriptURL?: string | URL; scope?: string | URL }): Promise<ServiceWorkerRegistration | null>;
/**
 * Uploads a file with HTTP File Upload (XEP-0363) from this tab and resolves to its download URL
 * (share it with chat.send {oob}). Rejects with a SparkWebError (`not-acceptable` over the
 * server's limit, ...) or, when `signal` aborts it, a DOMException named "AbortError".
 */
export function upload(
  file: Blob,
  options?: { onProgress?: (sent: number, total: number) => void; signal?: AbortSignal; filename?: string },
): Promise<string>;
/** The bare JID of a JID string. */
export function bareJID(jid: string): string;
/** A contact's most available presence, or null when offline. */
export function bestPresence(presences: Presence[], bare: string): Presence | null;
/** English words for each `show` value. */
export const showLabels: Readonly<Record<Show, string>>;
/** The shared design tokens (CSS) of the elements' shadow roots. */
export const themeCSS: string;

// i18n.js (replaceable strings and Intl formatting), declared here for one import of types.
export interface I18n {
  defineStrings(strings: Record<string, string>): void;
  setStrings(strings: Record<string, string | null | undefined>): void;
  t(key: string, vars?: Record<string, string | number> | null, local?: Record<string, string> | null): string;
  locale(): string;
  formatTime(iso: string, options?: Intl.DateTimeFormatOptions): string;
}

/** Fields every element with translatable texts has. */
interface Translatable {
  /** This element's own texts by i18n key, over the page's (setStrings); null for none. */
  strings: Record<string, string> | null;
}

/** <sparkweb-app>: a complete client composed of the other elements. */
export class SparkWebApp extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  readonly view: { type: '' | 'chat' | 'room' | 'profile'; jid: string };
  open(type: 'chat' | 'room' | 'profile', jid?: string): void;
  close(): void;
}

/** <sparkweb-login>: sign-in form and account controls. */
export class SparkWebLogin extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
}

/** <sparkweb-status>: the connection banner. */
export class SparkWebStatus extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  delay: number;
  readonly pending: number;
  retry(): Promise<void>;
}

/** <sparkweb-presence>: own status picker. */
export class SparkWebPresence extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  readonly show: 'available' | 'chat' | 'away' | 'xa' | 'dnd';
  readonly status: string;
}

/** <sparkweb-notifications>: Web Push toggle. */
export class SparkWebNotifications extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  readonly state: 'off' | 'asking' | 'on' | 'denied' | 'error';
  readonly timeout: number;
  readonly vapidURL: URL;
  toggle(): Promise<void>;
}

/** <sparkweb-roster>: the contact list. */
export class SparkWebRoster extends HTMLElement {
  selected: string;
}

/** <sparkweb-chat with="jid">: one conversation (a contact's bare JID or a room occupant's room@service/nick). */
export class SparkWebChat extends HTMLElement {
  with: string;
}

/** <sparkweb-room room="jid">: one group chat. */
export class SparkWebRoom extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  room: string;
}

/** <sparkweb-rooms>: bookmarks, joined rooms, find, join and create. */
export class SparkWebRooms extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  selected: string;
}

/** <sparkweb-profile>: own or a contact's vCard and avatar. */
export class SparkWebProfile extends HTMLElement implements Translatable {
  strings: Record<string, string> | null;
  jid: string;
}

/** The events the elements dispatch (all bubble and cross shadow roots). */
export interface SparkWebEventMap {
  /** kind "room" from <sparkweb-rooms>; kind "chat" with room@service/nick from <sparkweb-room>'s "Send private message". */
  'sparkweb-select': CustomEvent<{ jid: string; kind?: 'room' | 'chat' }>;
  'sparkweb-open': CustomEvent<{ type: '' | 'chat' | 'room' | 'profile'; jid: string }>;
  'sparkweb-leave': CustomEvent<{ jid: string }>;
  'sparkweb-presence-change': CustomEvent<{ show: string; status: string }>;
  /** <sparkweb-login> created an account (bare JID), before signing in with it. */
  'sparkweb-account-created': CustomEvent<{ jid: string }>;
}

declare global {
  interface HTMLElementTagNameMap {
    'sparkweb-app': SparkWebApp;
    'sparkweb-chat': SparkWebChat;
    'sparkweb-login': SparkWebLogin;
    'sparkweb-notifications': SparkWebNotifications;
    'sparkweb-presence': SparkWebPresence;
    'sparkweb-profile': SparkWebProfile;
    'sparkweb-room': SparkWebRoom;
    'sparkweb-rooms': SparkWebRooms;
    'sparkweb-roster': SparkWebRoster;
    'sparkweb-status': SparkWebStatus;
  }
  interface HTMLElementEventMap extends SparkWebEventMap {}
  interface DocumentEventMap extends SparkWebEventMap {
    /** setStrings() was called: elements render their texts again. */
    'sparkweb-strings': Event;
  }
}
