// The demo page's wiring (index.html): load the elements, open the contact picked in the roster,
// and install the service worker that lets the app start offline.
import { registerServiceWorker } from '../webcomponents/sparkweb.js';
import '../webcomponents/sparkweb-login.js';
import '../webcomponents/sparkweb-roster.js';
import '../webcomponents/sparkweb-chat.js';

const chat = document.querySelector('sparkweb-chat');
document.querySelector('sparkweb-roster').addEventListener('sparkweb-select', (e) => {
  chat.setAttribute('with', e.detail.jid);
});

// Offline start is a bonus: the client works without it, so a failure is only logged.
registerServiceWorker().catch((err) => console.warn('sparkweb: service worker not registered:', err));
