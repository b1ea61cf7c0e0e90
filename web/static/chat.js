/* Chat page and widget frame: streams answers from /api/chat/stream (tokens shown as plain text while
   they arrive, then the server's sanitised answer_html), shows citation cards, referrals and feedback.
   Texts come from the page (the server's translation catalogues); posts carry the page's token.
   No dependencies, no inline code. */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) { return; }
  var lang = root.getAttribute("data-lang") === "en" ? "en" : "fr";
  var embed = root.getAttribute("data-embed") === "true";
  var TEXT = JSON.parse(document.getElementById("chat-texts").textContent);
  var tokenMeta = document.querySelector("meta[name=csrf-token]");
  var HEADERS = { "Content-Type": "application/json", "Accept-Language": lang,
                  "X-CSRF-Token": tokenMeta ? tokenMeta.content : "" };
  /* FAQ and guides are best read on our own page; provisions and decisions at their official source. */
  var OUR_PAGE_FIRST = { faq: true, guide: true };

  var list = document.getElementById("messages");
  var form = document.getElementById("ask-form");
  var input = document.getElementById("question");
  var sendButton = document.getElementById("send");
  var announcer = document.getElementById("announcer");
  var errorBox = document.getElementById("ask-error");
  var starters = document.getElementById("starters");
  var conversationId = null;
  var counter = 0;
  var busy = false;

  function element(tagName, className, text) {
    var el = document.createElement(tagName);
    if (className) { el.className = className; }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function addUser(text) {
    var li = element("li", "msg user");
    li.appendChild(element("p", "who", TEXT.you));
    li.appendChild(element("p", "text", text));
    list.appendChild(li);
  }

  function linkTarget(a) { if (embed) { a.target = "_blank"; a.rel = "noopener"; } return a; }

  function renderCitations(box, citations, prefix) {
    box.textContent = "";
    if (!citations || !citations.length) { box.hidden = true; return; }
    box.hidden = false;
    box.appendChild(element("h3", "cites-title", TEXT.sources));
    var ol = element("ol", "citations");
    citations.forEach(function (c, i) {
      var li = element("li", "card kind-" + c.kind);
      li.id = prefix + (i + 1);
      li.appendChild(element("span", "badge", TEXT.kinds[c.kind] || c.kind));
      var ours = OUR_PAGE_FIRST[c.kind];
      var first = ours ? c.page : c.url, second = ours ? c.url : c.page;
      var title = linkTarget(element("a", "card-title", "[" + (i + 1) + "] " + c.ref + " – " + c.title));
      title.href = first || second;
      li.appendChild(title);
      if (first && second) {
        var other = linkTarget(element("a", "card-other", ours ? TEXT.official : TEXT.ourPage));
        other.href = second;
        li.appendChild(other);
      }
      [title, li.lastChild].forEach(function (a) { if (/^https?:/.test(a.getAttribute("href"))) { a.rel = "noopener"; } });
      ol.appendChild(li);
    });
    box.appendChild(ol);
  }

  function renderReferral(box, referral) {
    box.textContent = "";
    if (!referral) { box.hidden = true; return; }
    box.hidden = false;
    box.appendChild(element("h3", "", TEXT.referral));
    box.appendChild(element("p", "", referral.reason));
    var partners = referral.partners || [];
    if (partners.length) {
      var ul = element("ul", "partners");
      ul.setAttribute("aria-label", TEXT.partners);
      partners.forEach(function (p) {
        var li = element("li", "partner");
        li.appendChild(element("p", "partner-name", p.name));
        if (p.why && p.why.length) {
          var why = element("ul", "why");
          why.setAttribute("aria-label", TEXT.why);
          p.why.forEach(function (reason) { why.appendChild(element("li", "", reason)); });
          li.appendChild(why);
        }
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    var go = linkTarget(element("a", "dpo-button", TEXT.findDpo));
    go.href = (referral.dpo_url || "/dpo?from=chat&topic=" + encodeURIComponent(referral.code || "")) + "&lang=" + lang;
    box.appendChild(go);
  }

  function renderFeedback(box, answerId) {
    box.textContent = "";
    if (!answerId) { box.hidden = true; return; }
    box.hidden = false;
    var fieldset = element("fieldset", "feedback");
    fieldset.appendChild(element("legend", "", TEXT.helpful));
    var rating = null;
    var up = element("button", "thumb up", TEXT.up);
    var down = element("button", "thumb down", TEXT.down);
    [up, down].forEach(function (b) { b.type = "button"; b.setAttribute("aria-pressed", "false"); });
    var label = element("label", "", TEXT.comment);
    var comment = element("textarea", "comment");
    var id = "fb-" + answerId;
    comment.id = id; label.htmlFor = id; comment.rows = 2; comment.maxLength = 1000;
    var send = element("button", "send-feedback", TEXT.send);
    send.type = "button"; send.disabled = true;
    var result = element("p", "feedback-result");
    result.setAttribute("role", "status");
    function choose(value, button, other) {
      rating = value; button.setAttribute("aria-pressed", "true"); other.setAttribute("aria-pressed", "false");
      send.disabled = false;
    }
    up.addEventListener("click", function () { choose("up", up, down); });
    down.addEventListener("click", function () { choose("down", down, up); });
    send.addEventListener("click", function () {
      send.disabled = true;
      fetch("/api/feedback", { method: "POST", headers: HEADERS,
        body: JSON.stringify({ answer_id: answerId, rating: rating, comment: comment.value || null }) })
        .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
        .then(function (r) {
          if (r.ok) { result.textContent = TEXT.thanks; up.disabled = down.disabled = true; comment.disabled = true; }
          else { result.textContent = TEXT.failed + r.data.error.message; send.disabled = false; }
        })
        .catch(function (e) { result.textContent = TEXT.failed + e; send.disabled = false; });
    });
    [up, down, label, comment, send, result].forEach(function (el) { fieldset.appendChild(el); });
    box.appendChild(fieldset);
  }

  function addAssistant() {
    counter += 1;
    var prefix = "cite-" + counter + "-";
    var li = element("li", "msg bot");
    li.setAttribute("aria-busy", "true");
    li.appendChild(element("p", "who", TEXT.bot));
    var body = element("div", "text");
    body.appendChild(element("p", "thinking", TEXT.thinking));
    var referral = element("aside", "referral"); referral.hidden = true;
    var cites = element("section", "cites"); cites.hidden = true;
    var feedback = element("div", "feedback-box"); feedback.hidden = true;
    [body, referral, cites, feedback].forEach(function (el) { li.appendChild(el); });
    list.appendChild(li);
    li.scrollIntoView({ block: "end" });
    return { li: li, body: body, cites: cites, referral: referral, feedback: feedback, prefix: prefix };
  }

  function showError(view, message) {
    view.body.textContent = "";
    view.body.appendChild(element("p", "error", TEXT.failed + message));
    view.li.setAttribute("aria-busy", "false");
    announcer.textContent = TEXT.failed + message;
  }

  function showHtml(view, html) {
    /* answer_html is rendered and sanitised on the server (markdown-it, nh3): the same on every surface. */
    view.body.classList.remove("streaming");
    view.body.innerHTML = html;
    if (embed) { Array.prototype.forEach.call(view.body.querySelectorAll("a:not(.cite)"), linkTarget); }
  }

  function finish(view, answer) {
    if (answer.cite_prefix) { view.prefix = answer.cite_prefix; }
    showHtml(view, answer.answer_html);
    renderCitations(view.cites, answer.citations, view.prefix);
    renderReferral(view.referral, answer.referral);
    renderFeedback(view.feedback, answer.answer_id);
    view.li.setAttribute("aria-busy", "false");
    view.li.setAttribute("data-status", answer.status);
    if (answer.conversation_id) { conversationId = answer.conversation_id; }
    announcer.textContent = TEXT.announce + view.body.textContent.slice(0, 300);
  }

  function parseEvents(buffer, handle) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message", data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
        else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
      });
      if (data.length) { handle(name, JSON.parse(data.join("\n"))); }
    });
    return rest;
  }

  function ask(question, retried) {
    var view = addAssistant();
    var text = "";
    return fetch("/api/chat/stream", {
      method: "POST",
      headers: Object.assign({ "Accept": "text/event-stream" }, HEADERS),
      body: JSON.stringify({ message: question, conversation_id: conversationId })
    }).then(function (resp) {
      if (!resp.ok) {
        return resp.json().then(function (d) {
          if (resp.status === 404 && d.error && d.error.code === "unknown_conversation" && !retried) {
            conversationId = null; list.removeChild(view.li); return ask(question, true);
          }
          showError(view, (d.error && d.error.message) || resp.status);
        }, function () { showError(view, "HTTP " + resp.status); });
      }
      var reader = resp.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var done = false;
      function handle(name, data) {
        if (name === "sources") { renderCitations(view.cites, data.citations, view.prefix); }
        else if (name === "token") {
          /* Plain text while it streams; the rendered answer replaces it on "done". */
          text += data.text; view.body.classList.add("streaming"); view.body.textContent = text;
        }
        else if (name === "reset") {
          /* The optional LLM failed midway: drop its text, the grounded answer follows. */
          text = ""; view.body.textContent = ""; view.body.appendChild(element("p", "thinking", TEXT.thinking));
        }
        else if (name === "done") { done = true; finish(view, data); }
        else if (name === "error") { done = true; showError(view, data.message); }
      }
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            buffer = parseEvents(buffer + decoder.decode() + "\n\n", handle);
            if (!done) { showError(view, TEXT.interrupted); }
            return;
          }
          buffer = parseEvents(buffer + decoder.decode(r.value, { stream: true }), handle);
          return pump();
        });
      }
      return pump();
    }).catch(function (e) { showError(view, e.message || String(e)); });
  }

  function submit(question) {
    question = question.trim();
    errorBox.hidden = true;
    if (!question) { errorBox.textContent = TEXT.empty; errorBox.hidden = false; input.focus(); return; }
    if (question.length > 2000) { errorBox.textContent = TEXT.long; errorBox.hidden = false; return; }
    if (busy) { return; }
    busy = true; sendButton.disabled = true;
    if (starters) { starters.hidden = true; }
    addUser(question);
    input.value = "";
    ask(question).then(function () { busy = false; sendButton.disabled = false; input.focus(); });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); submit(input.value); });
  if (embed && window.parent !== window) {
    /* Escape inside the widget's frame closes it: the host page's widget script listens for this. */
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { window.parent.postMessage("gdpr-assistant:close", "*"); }
    });
  }
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(input.value); }
  });
  Array.prototype.forEach.call(document.querySelectorAll(".starter"), function (b) {
    b.addEventListener("click", function () { submit(b.textContent); });
  });
})();
