// Your pages (console_own_pages.cc): the editor's preview follows the manager's typing, and the
// upload form says where the chosen files will go and whether they are too large. Both pages
// work without this script (a Preview button; the server's checks).
(function () {
  'use strict';

  var PREVIEW_DELAY_MS = 500;

  // The preview: a fresh sandboxed frame per refresh, filled by posting the editor's fields to
  // /pages/preview (the console's own origin; the answer's headers keep it sandboxed). A fresh
  // frame's first page replaces its blank one, so previews leave no trail in the back button's
  // history; the new frame loads laid out but invisible over the old one (a frame loaded while
  // display:none may not paint when shown), which goes once the new one has loaded, so the
  // preview never blinks.
  function setUpPreview() {
    var form = document.getElementById('page-form');
    var frame = document.getElementById('page-preview');
    var button = document.getElementById('preview-button');
    if (!form || !frame || !button) return;
    var action = button.getAttribute('formaction') || '/pages/preview';
    var live = document.getElementById('preview-live');
    if (live) live.hidden = false;

    var timer = null;
    var serial = 0;
    var current = frame;

    function refresh() {
      timer = null;
      serial += 1;
      var name = 'page-preview-' + serial;
      var fresh = current.cloneNode(false);
      fresh.removeAttribute('src');
      fresh.id = 'page-preview-' + serial;
      fresh.name = name;
      fresh.classList.add('is-loading');
      fresh.setAttribute('data-preview', 'loading');
      current.parentNode.insertBefore(fresh, current.nextSibling);
      fresh.addEventListener('load', function () {
        if (fresh.getAttribute('data-preview') !== 'loading') return;
        // A newer refresh may have started meanwhile: only the newest frame stays.
        var frames = document.querySelectorAll('iframe.page-preview');
        for (var i = 0; i < frames.length; i += 1) {
          if (frames[i] !== fresh && frames[i].parentNode) {
            frames[i].parentNode.removeChild(frames[i]);
          }
        }
        fresh.id = 'page-preview';
        fresh.classList.remove('is-loading');
        fresh.setAttribute('data-preview', 'shown');
      });
      current = fresh;

      var post = document.createElement('form');
      post.method = 'post';
      post.action = action;
      post.target = name;
      post.hidden = true;
      var fields = new FormData(form);
      fields.forEach(function (value, key) {
        if (typeof value !== 'string') return;
        // A textarea keeps line breaks, which a hidden input's value may not.
        var field = document.createElement('textarea');
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
    // Text that is not saved yet (a refused save shows it again): preview it at once.
    if (!frame.getAttribute('src') && document.getElementById('body').value !== '') refresh();
  }

  function sizeText(bytes) {
    if (bytes >= 1048576) return (Math.ceil(bytes / 104857.6) / 10) + ' MiB';
    if (bytes >= 1024) return Math.ceil(bytes / 1024) + ' KiB';
    return bytes + ' bytes';
  }

  // The file's address as the server will choose it when "Put them at" is empty or a folder.
  function addressFor(name, to, count) {
    var safe = name.replace(/^.*[\\/]/, '').replace(/[^A-Za-z0-9._\-\u0080-\uffff]+/g, '-')
      .replace(/^[.\-]+/, '');
    if (to !== '' && to.charAt(to.length - 1) !== '/' && count === 1) return to;
    if (to !== '' && to.charAt(to.length - 1) === '/') return to + safe;
    var image = /\.(png|jpe?g|gif|webp|svg|ico)$/i.test(safe);
    return (image ? '/local/images/' : '/local/files/') + safe;
  }

  function setUpUpload() {
    var form = document.getElementById('upload-form');
    var input = document.getElementById('upload-file');
    var to = document.getElementById('upload-to');
    var chosen = document.getElementById('upload-chosen');
    var submit = document.getElementById('upload');
    if (!form || !input || !chosen || !submit) return;
    var max = Number(form.getAttribute('data-max-bytes')) || 0;

    function show() {
      var files = input.files || [];
      var total = 0;
      var lines = [];
      for (var i = 0; i < files.length; i += 1) {
        total += files[i].size;
        lines.push(files[i].name + ' (' + sizeText(files[i].size) + ') → ' +
                   addressFor(files[i].name, to ? to.value.trim() : '', files.length));
      }
      var tooLarge = max > 0 && total > max;
      chosen.classList.toggle('too-large', tooLarge);
      if (tooLarge) {
        chosen.textContent = 'These files are ' + sizeText(total) + ' together, more than the ' +
          sizeText(max) + ' one upload takes. Choose fewer or smaller files (an image saved ' +
          'at a smaller size, for instance).';
      } else {
        chosen.textContent = lines.join('; ');
      }
      submit.disabled = tooLarge;
    }

    input.addEventListener('change', show);
    if (to) to.addEventListener('input', show);
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
