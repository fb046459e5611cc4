/*
 * 在线客服 widget — one-tag embed for any shop page:
 *   <script src="https://HUB/widget.js" data-hub="https://HUB" data-identity="..." data-title="..."></script>
 *
 * This file is only the loader: it reads the tag's settings and imports the widget's ES modules
 * (static/widget/, static/shared/) from beside itself, so the tag above stays all a shop needs.
 * The hub serves those modules with CORS, as a module imported from another origin requires.
 */
(function () {
  "use strict";
  if (window.__kefuWidget || window.__kefuWidgetLoading) return;
  window.__kefuWidgetLoading = true;

  // The widget's whole module graph (tests/hub/test_static.py keeps the list complete). Importing
  // every file at once fetches them in parallel instead of one import level after another.
  var MODULES = [
    "widget/main.js", "widget/conversation.js", "widget/view.js", "widget/messages.js", "widget/cards.js",
    "widget/text.js", "widget/storage.js", "widget/style.js",
    "shared/http.js", "shared/socket.js", "shared/format.js", "shared/dom.js"
  ];

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-hub], script[src*="widget.js"]');
  var dataset = (script && script.dataset) || {};
  var src = script && script.src ? new URL(script.src, location.href) : null;
  var hub = (dataset.hub || (src ? src.origin : location.origin)).replace(/\/+$/, "");
  var base = new URL("static/", src || hub + "/widget.js");

  Promise.all(MODULES.map(function (path) { return import(new URL(path, base).href); })).then(function (loaded) {
    loaded[0].start({ hub: hub, identity: dataset.identity || "", title: dataset.title || "" });
  }).catch(function (err) {
    window.__kefuWidgetLoading = false;
    if (window.console) console.error("在线客服 widget failed to load", err);
  });
})();
