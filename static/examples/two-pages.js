// The two-page example (roster.html and chat.html): each page holds some of the elements, and
// both are bound to the one session the SharedWorker keeps, whichever window they are in.
// On the contacts page, picking a contact opens chat.html#chat=<jid> in the window named
// "sparkweb-chat" (reused when it is open). The chat page shows the conversation its address names.
import '../../webcomponents/sparkweb-login.js';
import '../../webcomponents/sparkweb-status.js';
import '../../webcomponents/sparkweb-presence.js';
import '../../webcomponents/sparkweb-roster.js';
import '../../webcomponents/sparkweb-chat.js';

const roster = document.querySelector('sparkweb-roster');
const chat = document.querySelector('sparkweb-chat');

roster?.addEventListener('sparkweb-select', (e) => {
  const url = new URL('chat.html', import.meta.url);
  url.hash = 'chat=' + encodeURIComponent(e.detail.jid).replace(/%40/g, '@');
  window.open(url.href, 'sparkweb-chat');
});

if (chat) {
  const show = () => {
    const jid = new URLSearchParams(location.hash.slice(1)).get('chat') ?? '';
    // Only a bare JID: anything else in the address is ignored.
    if (/^[^@/\s]+@[^@/\s]+$/.test(jid)) chat.setAttribute('with', jid);
  };
  window.addEventListener('hashchange', show);
  show();
}
