// Starts Redoc on /api/redoc/ (templates/api/redoc.html) without an inline script.
// The nonce on this <script> tag is the page's CSP nonce: Redoc puts it on the <style>
// elements it creates, which the page's policy allows by that nonce only.
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, { nonce: document.currentScript.nonce }, container);
})();
