// The demo page's wiring (index.html): load the elements, open the contact picked in the roster,
// and install the service worker that lets the app start offline and shows push notifications.
//
// The open chat is also in the address as #chat=<bare JID>, so that a notification clicked while
// no tab is open (the service worker opens /#chat=<jid>) and a reload land in that chat. A click
// on a notification while a tab is open reaches that tab as the message {type: "open-chat", jid}.
import { registerServiceWorker } from '../webcomponents/sparkweb.js';
import '../webcomponents/sparkweb-login.js';
import '../webcomponents/sparkweb-roster.js';
import '../webcomponents/sparkweb-chat.js';
import '../webcomponents/sparkweb-notifications.js';

const chat = document.querySelector('sparkweb-chat');

/** Shows the conversation with jid and records it in the address (without a history entry). */
function openChat(jid) {
  if (typeof jid !== 'string' || !/^[^@/\s]+@[^@/\s]+$/.test(jid)) return; // not a bare JID: ignore
  chat.setAttribute('with', jid);
  const url = new URL(location.href);
  url.hash = 'chat=' + encodeURIComponent(jid).replace(/%40/g, '@');
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}

/** The bare JID in the address's #chat=<jid>, or ''. */
function chatInAddress() {
  return new URLSearchParams(location.hash.slice(1)).get('chat') ?? '';
}

document.querySelector('sparkweb-roster').addEventListener('sparkweb-select', (e) => openChat(e.detail.jid));
window.addEventListener('hashchange', () => openChat(chatInAddress()));
if (chatInAddress()) openChat(chatInAddress());

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === 'open-chat') openChat(e.data.jid);
  });
}

// Offline start and notifications are a bonus: the client works without them, so a failure is only logged.
registerServiceWorker().catch((err) => console.warn('sparkweb: service worker not registered:', err));
