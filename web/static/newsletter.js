/* Newsletter sign-up forms (/newsletter, the chat page, the widget's frame): posted as JSON to the API with the
   page token, so they work inside a cross-site frame where the session cookie is not sent. Without this script
   the form posts normally. The answer is the same whatever the address: nothing to reveal. */
(function () {
  "use strict";
  var textsEl = document.getElementById("newsletter-texts");
  var texts = textsEl ? JSON.parse(textsEl.textContent) : {};
  var tokenMeta = document.querySelector("meta[name=csrf-token]");
  document.querySelectorAll(".newsletter-box[hidden]").forEach(function (box) { box.hidden = false; });
  document.querySelectorAll("form.newsletter-form").forEach(function (form) {
    var error = form.querySelector(".error");
    var notice = form.querySelector("[role=status]");
    var button = form.querySelector("button[type=submit]");
    var email = form.querySelector("input[name=email]");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      var body = { email: data.get("email") || "", consent: data.get("consent") === "yes",
        language: data.get("language"), source: data.get("source"), topics: data.getAll("topics") };
      error.hidden = true; notice.hidden = true; button.disabled = true;
      var label = button.textContent; button.textContent = texts.sending || label;
      fetch(form.getAttribute("data-api"), { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": tokenMeta ? tokenMeta.content : "" },
        body: JSON.stringify(body) })
        .then(function (resp) { return resp.json().then(function (json) { return { ok: resp.ok, json: json }; }); })
        .then(function (r) {
          if (r.ok) {
            notice.textContent = r.json.message; notice.hidden = false;
            email.removeAttribute("aria-invalid"); form.reset();
          } else {
            error.textContent = (r.json.error && r.json.error.message) || texts.failed; error.hidden = false;
            email.setAttribute("aria-invalid", "true"); email.setAttribute("aria-describedby", error.id);
          }
        })
        .catch(function () { error.textContent = texts.failed; error.hidden = false; })
        .then(function () { button.disabled = false; button.textContent = label; });
    });
  });
})();
