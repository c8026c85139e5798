// The partners at a glance (/): when the daemon announces that a partner's state changed (a
// "partners" event), the page is read again in the background and its states, table and pages
// are swapped in place; the search form (which may be in the middle of an edit) is left alone.
(function () {
  'use strict';
  if (!document.getElementById('partners-live')) return;

  function swap(fresh) {
    const from = fresh.getElementById('partners-live');
    const to = document.getElementById('partners-live');
    if (!from || !to) return;
    const wrap = to.querySelector('.partners-table-wrap');
    const scrolled = wrap ? wrap.scrollLeft : 0;
    const focused = to.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
    to.replaceChildren(...Array.from(from.childNodes, (n) => document.importNode(n, true)));
    const newWrap = to.querySelector('.partners-table-wrap');
    if (newWrap) newWrap.scrollLeft = scrolled;
    if (focused) {
      const same = Array.from(to.querySelectorAll('a[href]')).find((a) => a.getAttribute('href') === focused);
      if (same) same.focus();
    }
    // The state choices carry counts too.
    const select = document.getElementById('partners-state');
    const freshSelect = fresh.getElementById('partners-state');
    if (select && freshSelect && select.options.length === freshSelect.options.length) {
      for (let i = 0; i < select.options.length; i++) {
        select.options[i].textContent = freshSelect.options[i].textContent;
      }
    }
    to.dataset.refreshed = String(Date.now());
  }

  const refresh = window.tieupConsole.reloader(swap);

  document.addEventListener('tieup-console-event', (e) => {
    if (e.detail && e.detail.type === 'partners') refresh();
  });
})();
