/* Embeddable GDPR assistant widget: <script src="https://assistant.example/widget.js" data-lang="fr" defer></script>
   Adds a chat bubble that opens the assistant in an iframe served by the assistant's own origin.
   No inline markup styles and no eval: styles are set through the CSSOM, so it works under a strict CSP
   (the host needs script-src and frame-src for the assistant's origin). Served by /widget.js with its
   labels from the assistant's translation catalogues. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__gdprAssistantWidget) { return; }
  window.__gdprAssistantWidget = true;
  var origin = new URL(script.src, window.location.href).origin;
  var lang = script.getAttribute("data-lang") || ((navigator.language || "fr").slice(0, 2) === "en" ? "en" : "fr");
  var labels = {{ texts|tojson }}[lang === "en" ? "en" : "fr"];

  function style(el, props) { Object.keys(props).forEach(function (k) { el.style[k] = props[k]; }); }

  var host = document.createElement("div");
  host.setAttribute("data-gdpr-assistant", "");
  style(host, { position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483000" });
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", labels.open);
  button.setAttribute("aria-expanded", "false");
  button.textContent = labels.bubble;
  style(button, { width: "64px", height: "64px", borderRadius: "32px", border: "2px solid #ffffff",
    background: "#1d3f8c", color: "#ffffff", font: "bold 15px system-ui, sans-serif", cursor: "pointer",
    boxShadow: "0 2px 8px rgba(0,0,0,.35)" });

  var frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/embed?lang=" + encodeURIComponent(lang);
      frame.title = labels.title;
      style(frame, { position: "absolute", right: "0", bottom: "76px", width: "min(380px, calc(100vw - 32px))",
        height: "min(600px, calc(100vh - 110px))", border: "1px solid #8a8f98", borderRadius: "12px",
        background: "#ffffff", boxShadow: "0 4px 16px rgba(0,0,0,.3)" });
      shadow.appendChild(frame);
    }
    frame.hidden = false;
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-label", labels.close);
    button.textContent = "×";
    frame.focus();
  }
  function close() {
    if (frame) { frame.hidden = true; }
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", labels.open);
    button.textContent = labels.bubble;
    button.focus();
  }
  button.addEventListener("click", function () { (frame && !frame.hidden) ? close() : open(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && frame && !frame.hidden) { close(); } });
  window.addEventListener("message", function (e) {
    if (e.origin === origin && e.data === "gdpr-assistant:close" && frame && !frame.hidden) { close(); }
  });
  shadow.appendChild(button);
  (document.body || document.documentElement).appendChild(host);
})();
