// Your pages (console_own_pages.cc): the upload form says where the chosen files will go and
// whether they are too large (the editor's live preview is the console's, live_preview.js). The
// page works without this script (the server's checks).
(function () {
  'use strict';

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
    setUpUpload();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
