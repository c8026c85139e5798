// Live previews, for any console page (the partner's own pages, main's content): an
//   <div class="live-preview-stack"><iframe id="F" data-live-preview="BUTTON" ...></div>
// follows its form as the manager types. BUTTON is the form's Preview button (type submit, with
// formaction and formtarget F: without JavaScript it fills the frame). Optional on the iframe:
//   data-live-preview-show="ID"     an element shown once previews are live ("follows your typing")
//   data-live-preview-hide="ID"     an element hidden then ("press Preview ...")
//   data-live-preview-initial="ID"  a field: when the frame has no src (text not saved: a refused
//                                   save, a new draft) and the field is not empty, preview at once
// Each refresh posts the form's text fields to the button's formaction into a fresh sandboxed
// frame (its first page replaces a blank one, so previews leave no trail in the history), which
// loads laid out but invisible (class is-loading) over the one shown and replaces it once loaded
// (data-preview="shown"), so the preview never blinks; a frame loaded while display:none may not
// paint when shown.
(function () {
  'use strict';

  var DELAY_MS = 450;

  function element(frame, attribute) {
    var id = frame.getAttribute(attribute);
    return id ? document.getElementById(id) : null;
  }

  function setUp(frame) {
    var button = element(frame, 'data-live-preview');
    var form = button ? button.form : null;
    if (!form) return;
    var action = button.getAttribute('formaction') || form.action;
    var group = frame.id;
    frame.setAttribute('data-live-preview-group', group);
    var show = element(frame, 'data-live-preview-show');
    if (show) show.hidden = false;
    var hide = element(frame, 'data-live-preview-hide');
    if (hide) hide.hidden = true;

    var timer = null;
    var serial = 0;
    var current = frame;

    function refresh() {
      timer = null;
      serial += 1;
      var name = group + '-' + serial;
      var fresh = current.cloneNode(false);
      fresh.removeAttribute('src');
      fresh.id = name;
      fresh.name = name;
      fresh.classList.add('is-loading');
      fresh.setAttribute('data-preview', 'loading');
      current.parentNode.insertBefore(fresh, current.nextSibling);
      fresh.addEventListener('load', function () {
        if (fresh.getAttribute('data-preview') !== 'loading') return;
        // A newer refresh may have started meanwhile: only the newest frame stays.
        var frames = document.querySelectorAll('iframe[data-live-preview-group="' + group + '"]');
        for (var i = 0; i < frames.length; i += 1) {
          if (frames[i] !== fresh && frames[i].parentNode) {
            frames[i].parentNode.removeChild(frames[i]);
          }
        }
        fresh.id = group;
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
      timer = window.setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener('input', later);
    form.addEventListener('change', later);
    button.addEventListener('click', function (event) {
      event.preventDefault();
      if (timer !== null) window.clearTimeout(timer);
      refresh();
    });
    var initial = element(frame, 'data-live-preview-initial');
    if (!frame.getAttribute('src') && initial && initial.value !== '') refresh();
  }

  function start() {
    var frames = document.querySelectorAll('iframe[data-live-preview]');
    for (var i = 0; i < frames.length; i += 1) setUp(frames[i]);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
