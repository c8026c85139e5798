// The console's live updates: a banner for each event from /events, a browser notification
// when the manager allowed them, and, when switched on here, the message read aloud. Pages work
// without this script.
(function () {
  'use strict';

  var SPEAK_KEY = 'tieup.console.speak';

  function storedSpeak() {
    try {
      return window.localStorage.getItem(SPEAK_KEY) === '1';
    } catch (e) {
      return false;
    }
  }

  function storeSpeak(on) {
    try {
      window.localStorage.setItem(SPEAK_KEY, on ? '1' : '0');
    } catch (e) {
      // Storage refused (private mode): the setting lasts for this page only.
    }
  }

  function setUpSettings() {
    var settings = document.getElementById('live-settings');
    if (!settings) return;
    settings.hidden = false;

    var speak = document.getElementById('speak-toggle');
    if (speak) {
      if (!('speechSynthesis' in window)) {
        speak.disabled = true;
      } else {
        speak.checked = storedSpeak();
        speak.addEventListener('change', function () {
          storeSpeak(speak.checked);
        });
      }
    }

    var button = document.getElementById('notifications-button');
    if (button && 'Notification' in window && Notification.permission === 'default') {
      button.hidden = false;
      button.addEventListener('click', function () {
        var done = function () {
          button.hidden = Notification.permission !== 'default';
        };
        var asked = Notification.requestPermission(done);
        if (asked && typeof asked.then === 'function') asked.then(done);
      });
    }
  }

  function describe(event) {
    var data = event.data || {};
    var message = typeof data.message === 'string' ? data.message : '';
    // What a person reads first: the event's title (the type is for scripts).
    var title = typeof data.title === 'string' ? data.title : '';
    // Only a path on this console becomes a link.
    var href = typeof data.href === 'string' && /^\/(?![\/\\])/.test(data.href) ? data.href : '';
    return { title: title, message: message, href: href };
  }

  function showBanner(text) {
    var area = document.getElementById('live-events');
    if (!area) return;
    var banner = document.createElement('div');
    banner.className = 'live-event';
    banner.setAttribute('role', 'status');

    var p = document.createElement('p');
    p.className = 'live-event__text';
    if (text.title) {
      var title = document.createElement('strong');
      title.className = 'live-event__type';
      title.textContent = text.title;
      p.appendChild(title);
      p.appendChild(document.createTextNode(' '));
    }
    if (text.message) p.appendChild(document.createTextNode(text.message));
    if (text.href) {
      var link = document.createElement('a');
      link.href = text.href;
      link.textContent = 'Open';
      p.appendChild(document.createTextNode(' '));
      p.appendChild(link);
    }
    banner.appendChild(p);

    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'button button--quiet';
    close.textContent = 'Dismiss';
    close.addEventListener('click', function () {
      banner.parentNode.removeChild(banner);
    });
    banner.appendChild(close);
    area.insertBefore(banner, area.firstChild);
  }

  function notify(text) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      new Notification(text.title || document.title, { body: text.message, tag: 'tieup-console' });
    } catch (e) {
      // Some browsers allow notifications only from a service worker: the banner remains.
    }
  }

  function speak(text) {
    if (!text.message || !storedSpeak() || !('speechSynthesis' in window)) return;
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text.message));
  }

  function listen(since) {
    if (!('EventSource' in window)) return;
    var url = '/events' + (since ? '?since=' + encodeURIComponent(since) : '');
    var source = new EventSource(url);
    source.addEventListener('message', function (e) {
      var event;
      try {
        event = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      // A page's own script follows the events it cares about (live progress, a table's rows):
      // document.addEventListener('tieup-console-event', function (e) { e.detail.type ... }).
      document.dispatchEvent(new CustomEvent('tieup-console-event', { detail: event }));
      var text = describe(event);
      if (!text.title && !text.message) return;  // for pages' scripts only: no banner
      showBanner(text);
      notify(text);
      speak(text);
    });
  }

  // For pages' own scripts: tieupConsole.reloader(apply) returns refresh(), which reads the page's
  // own address again in the background and hands the parsed document to apply(doc) (to swap
  // parts of the page in place). One request at a time: calls meanwhile make one more after it;
  // a failure (the console restarting) is left to the next event.
  window.tieupConsole = {
    reloader: function (apply) {
      var busy = false;
      var again = false;
      function refresh() {
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        // X-Tieup-Refresh: the console keeps a waiting flash message for the next real page.
        fetch(window.location.href, {
          credentials: 'same-origin',
          headers: { Accept: 'text/html', 'X-Tieup-Refresh': '1' },
        })
          .then(function (r) {
            return r.ok ? r.text() : Promise.reject(new Error('HTTP ' + r.status));
          })
          .then(function (html) {
            apply(new DOMParser().parseFromString(html, 'text/html'));
          })
          .catch(function () {})
          .then(function () {
            busy = false;
            if (again) {
              again = false;
              refresh();
            }
          });
      }
      return refresh;
    },
  };

  function start() {
    var since = document.body.getAttribute('data-events-since');
    if (since === null) return;  // not signed in
    setUpSettings();
    listen(since);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
