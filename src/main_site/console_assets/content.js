// Content (console_content.cc): the editor's preview follows the manager's typing and the
// "Preview as" choice, and the upload form says when the chosen files are too large. Both pages
// work without this script (a Preview button; the server's checks and its 413 page).
(function () {
  'use strict';

  var PREVIEW_DELAY_MS = 400;

  // A fresh sandboxed frame per refresh, filled by posting the editor's fields to
  // /content/preview; it loads invisibly over the old one, which goes once it has loaded.
  function setUpPreview() {
    var form = document.getElementById('content-form');
    var frame = document.getElementById('content-preview');
    var button = document.getElementById('content-preview-button');
    if (!form || !frame || !button) return;
    var action = button.getAttribute('formaction') || '/content/preview';
    var live = document.getElementById('content-preview-live');
    if (live) live.hidden = false;
    var hint = document.getElementById('content-preview-hint');
    if (hint) hint.hidden = true;

    var timer = null;
    var serial = 0;
    var current = frame;

    function refresh() {
      timer = null;
      serial += 1;
      var name = 'content-preview-' + serial;
      var fresh = current.cloneNode(false);
      fresh.removeAttribute('src');
      fresh.id = name;
      fresh.name = name;
      fresh.classList.add('is-loading');
      fresh.setAttribute('data-preview', 'loading');
      current.parentNode.insertBefore(fresh, current.nextSibling);
      fresh.addEventListener('load', function () {
        if (fresh.getAttribute('data-preview') !== 'loading') return;
        var frames = document.querySelectorAll('iframe.content-preview');
        for (var i = 0; i < frames.length; i += 1) {
          if (frames[i] !== fresh && frames[i].parentNode) {
            frames[i].parentNode.removeChild(frames[i]);
          }
        }
        fresh.id = 'content-preview';
        fresh.classList.remove('is-loading');
        fresh.setAttribute('data-preview', 'shown');
      });
      current = fresh;

      var post = document.createElement('form');
      post.method = 'post';
      post.action = action;
      post.target = name;
      post.hidden = true;
      new FormData(form).forEach(function (value, key) {
        if (typeof value !== 'string') return;
        var field = document.createElement('textarea');  // keeps line breaks
        field.name = key;
        field.value = value;
        post.appendChild(field);
      });
      document.body.appendChild(post);
      post.submit();
      document.body.removeChild(post);
    }

    function later() {
      if (timer !== null) window.clearTimeout(timer);
      timer = window.setTimeout(refresh, PREVIEW_DELAY_MS);
    }

    form.addEventListener('input', later);
    form.addEventListener('change', later);
    button.addEventListener('click', function (event) {
      event.preventDefault();
      if (timer !== null) window.clearTimeout(timer);
      refresh();
    });
    // A draft that is not saved (a new page, a refused save): preview it at once.
    if (!frame.getAttribute('src')) refresh();
  }

  function sizeText(bytes) {
    if (bytes >= 1048576) return (Math.ceil(bytes / 104857.6) / 10) + ' MiB';
    if (bytes >= 1024) return Math.ceil(bytes / 1024) + ' KiB';
    return bytes + ' bytes';
  }

  function setUpUpload() {
    var form = document.getElementById('content-upload-form');
    var input = document.getElementById('content-upload-file');
    var chosen = document.getElementById('content-upload-chosen');
    var submit = document.getElementById('content-upload');
    if (!form || !input || !chosen || !submit) return;
    var max = Number(form.getAttribute('data-max-bytes')) || 0;
    input.addEventListener('change', function () {
      var files = input.files || [];
      var total = 0;
      var names = [];
      for (var i = 0; i < files.length; i += 1) {
        total += files[i].size;
        names.push(files[i].name + ' (' + sizeText(files[i].size) + ')');
      }
      var tooLarge = max > 0 && total > max;
      chosen.classList.toggle('too-large', tooLarge);
      chosen.textContent = tooLarge
        ? 'These files are ' + sizeText(total) + ' together, more than the ' + sizeText(max) +
          ' one upload takes. Choose fewer or smaller files.'
        : names.join('; ');
      submit.disabled = tooLarge;
    });
  }

  function start() {
    setUpPreview();
    setUpUpload();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
