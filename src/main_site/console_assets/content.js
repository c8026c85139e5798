// Content (console_content.cc): the upload form says when the chosen files are too large (the
// editor's live preview is the console's, live_preview.js). The page works without this script
// (the server's checks and its 413 page).
(function () {
  'use strict';

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
    setUpUpload();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
