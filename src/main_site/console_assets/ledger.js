// The main console's Ledger & fees page (console_templates/ledger.mustache): the progress of a
// statement run, live. "statements-progress" events update the row of each partner on the page
// and the count of partners done; "statements-finished" says how the run ended (the console's
// banner shows its message too). Without JavaScript a reload shows the same.
(() => {
  const run = document.getElementById('statements-run');
  if (!run || !document.getElementById('ledger-page')) return;
  const setText = (id, text) => {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  };
  // The run's box, shown (a run started after the page was loaded) with its counts.
  const showRun = (data) => {
    run.hidden = false;
    setText('statements-period', data.period);
    setText('statements-done', String(data.done));
    setText('statements-count', String(data.count));
  };
  document.addEventListener('tieup-console-event', (e) => {
    const { type, data } = e.detail || {};
    if (!data) return;
    if (type === 'statements-progress') {
      showRun(data);
      if (!run.classList.contains('main-ledger__run--running')) {
        run.classList.add('main-ledger__run--running');
        setText('statements-summary', 'Writing…');
      }
      const cell = document.getElementById(`statement-progress-${data.partner}`);
      if (!cell) return;  // the partner is on another page
      cell.dataset.state = data.state;
      cell.textContent = '';
      if (data.href && data.href.startsWith('/ledger/statements/')) {
        const a = document.createElement('a');
        a.href = data.href;
        a.textContent = data.words;
        cell.append(a);
        cell.parentElement?.querySelector('.main-ledger__none')?.remove();
      } else {
        cell.textContent = data.words;
      }
    } else if (type === 'statements-finished') {
      showRun(data);
      setText('statements-summary', data.message);
      run.classList.remove('main-ledger__run--running');
    }
  });
})();
