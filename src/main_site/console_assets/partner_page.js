// A partner's page (/partners/ID): when the daemon announces that a partner's state may have
// changed (a "partners" event) or a publish reports on this partner, the page is read again in
// the background and its state, emergency edits, updates and timeline are swapped in place. The
// settings form (which may be in the middle of an edit) and the actions are left alone.
(function () {
  'use strict';
  const root = document.getElementById('partner-page');
  if (!root) return;
  const partner = root.dataset.partner;
  const live = ['state', 'emergency-edits', 'updates', 'timeline'];

  function swap(fresh) {
    for (const id of live) {
      const from = fresh.getElementById(id);
      const to = document.getElementById(id);
      if (from && to) to.replaceChildren(...Array.from(from.childNodes, (n) => document.importNode(n, true)));
      if (from && to) to.className = from.className;
    }
    root.dataset.refreshed = String(Date.now());
  }

  const refresh = window.tieupConsole.reloader(swap);

  document.addEventListener('tieup-console-event', (e) => {
    const d = e.detail || {};
    if (d.type === 'partners') refresh();
    else if (typeof d.type === 'string' && d.type.startsWith('publish') && d.data &&
             (d.data.partner === partner || d.type === 'publish-finished')) refresh();
  });
})();
