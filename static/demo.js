// The demo page's wiring (index.html): load the elements and open the contact picked in the roster.
import '../webcomponents/sparkweb-login.js';
import '../webcomponents/sparkweb-roster.js';
import '../webcomponents/sparkweb-chat.js';

const chat = document.querySelector('sparkweb-chat');
document.querySelector('sparkweb-roster').addEventListener('sparkweb-select', (e) => {
  chat.setAttribute('with', e.detail.jid);
});
