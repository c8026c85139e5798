// The Publish pages (main_site/console_publish.cc). The form ticks the choice whose field is
// used; a run's page follows its partners live through the console's events
// ('tieup-console-event' from console.js: "publish-progress" per partner step, "publish-finished"
// at the end) and loads the run again when it missed an event or meets a partner it does not
// show. Without this script the run page shows the run as it was when loaded.
(function () {
  'use strict';

  function setUpForm() {
    var form = document.querySelector('form.publish-form');
    if (!form) return;
    var fields = form.querySelectorAll('[data-scope]');
    var choose = function (e) {
      var radio = document.getElementById(e.target.getAttribute('data-scope'));
      if (radio) radio.checked = true;
    };
    for (var i = 0; i < fields.length; i++) {
      fields[i].addEventListener('change', choose);
      fields[i].addEventListener('input', choose);
    }
  }

  function setUpRun() {
    var root = document.getElementById('publish-run');
    if (!root) return;
    var run = Number(root.getAttribute('data-run'));
    var seq = Number(root.getAttribute('data-seq'));

    function liveHint() {
      var hint = root.querySelector('[data-reload-hint]');
      if (hint) hint.textContent = 'This page follows the run live.';
    }
    liveHint();

    // The run as the server has it now, in place of what the page shows.
    var reload = window.tieupConsole.reloader(function (doc) {
      var fresh = doc.getElementById('publish-run');
      if (!fresh) return;
      var freshSeq = Number(fresh.getAttribute('data-seq'));
      if (freshSeq >= seq) {
        root.innerHTML = fresh.innerHTML;
        root.setAttribute('data-running', fresh.getAttribute('data-running'));
        seq = freshSeq;
        liveHint();
      }
    });

    function rowOf(partner) {
      var rows = root.querySelectorAll('tr[data-partner]');
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].getAttribute('data-partner') === partner) return rows[i];
      }
      return null;
    }

    function setCell(row, name, text) {
      var cell = row.querySelector('[data-cell="' + name + '"]');
      if (cell) cell.textContent = text || '';
    }

    document.addEventListener('tieup-console-event', function (e) {
      var event = e.detail || {};
      var data = event.data || {};
      if (data.run !== run) return;
      if (event.type !== 'publish-progress' && event.type !== 'publish-finished') return;
      if (typeof data.seq !== 'number' || data.seq <= seq) return;  // the page has it already
      var missed = data.seq > seq + 1;
      seq = data.seq;
      if (event.type === 'publish-finished' || missed) {
        reload();
        return;
      }
      var counts = data.counts || {};
      Object.keys(counts).forEach(function (key) {
        var n = root.querySelector('[data-count="' + key + '"]');
        if (n) n.textContent = String(counts[key]);
      });
      var phase = root.querySelector('[data-phase]');
      if (phase) phase.textContent = 'Publishing to partners.';
      var row = rowOf(data.partner);
      if (!row) {
        // Not on this page: on another page of partners, or queued after the page was made.
        if (!root.querySelector('[data-paged]')) reload();
        return;
      }
      row.className = 'publish-state--' + data.category;
      setCell(row, 'text', data.text);
      setCell(row, 'version', data.version);
      setCell(row, 'update', data.update);
      setCell(row, 'time', data.time);
    });
  }

  function start() {
    setUpForm();
    setUpRun();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
