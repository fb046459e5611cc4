/*
 * 在线客服 widget — one-tag embed for any shop page:
 *   <script src="https://HUB/widget.js" data-hub="https://HUB" data-identity="..." data-title="..."></script>
 *
 * This file is only the loader: it reads the tag's settings and imports the widget's ES modules
 * (static/widget/, static/shared/) from beside itself, so the tag above stays all a shop needs.
 * The hub serves those modules with CORS, as a module loaded from another origin requires.
 */
(function () {
  "use strict";
  if (window.__kefuWidget || window.__kefuWidgetLoading) return;
  window.__kefuWidgetLoading = true;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-hub], script[src*="widget.js"]');
  var dataset = (script && script.dataset) || {};
  var src = script && script.src ? new URL(script.src, location.href) : null;
  var hub = (dataset.hub || (src ? src.origin : location.origin)).replace(/\/+$/, "");
  var entry = new URL("static/widget/main.js", src || hub + "/widget.js").href;

  import(entry).then(function (widget) {
    widget.start({ hub: hub, identity: dataset.identity || "", title: dataset.title || "" });
  }).catch(function (err) {
    window.__kefuWidgetLoading = false;
    if (window.console) console.error("在线客服 widget failed to load", err);
  });
})();
