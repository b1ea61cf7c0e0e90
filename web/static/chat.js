/* Chat page and widget frame: streams answers from /api/chat/stream, renders Markdown safely
   (text is escaped before any formatting), shows citation cards, referrals and feedback. No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) { return; }
  var lang = root.getAttribute("data-lang") === "en" ? "en" : "fr";
  var embed = root.getAttribute("data-embed") === "true";
  var TEXT = {
    fr: { you: "Vous", bot: "Assistant RGPD", thinking: "Recherche dans les sources…", sources: "Sources",
          open: "Voir la source", official: "Source officielle", helpful: "Cette réponse vous a-t-elle aidé ?",
          up: "Utile", down: "Pas utile", comment: "Un commentaire (facultatif, sans données personnelles)",
          send: "Envoyer l’avis", thanks: "Merci pour votre avis.", failed: "Une erreur est survenue : ",
          referral: "Besoin d’un professionnel ?", announce: "Nouvelle réponse de l’assistant : ",
          empty: "Écrivez une question.", long: "La question dépasse 2 000 caractères.",
          kinds: { gdpr_article: "RGPD", gdpr_recital: "Considérant", guide: "Guide", faq: "FAQ", cnil_decision: "CNIL" } },
    en: { you: "You", bot: "GDPR assistant", thinking: "Searching the sources…", sources: "Sources",
          open: "See the source", official: "Official source", helpful: "Was this answer helpful?",
          up: "Helpful", down: "Not helpful", comment: "A comment (optional, no personal data)",
          send: "Send feedback", thanks: "Thank you for your feedback.", failed: "Something went wrong: ",
          referral: "Need a professional?", announce: "New answer from the assistant: ",
          empty: "Type a question.", long: "The question is over 2,000 characters.",
          kinds: { gdpr_article: "GDPR", gdpr_recital: "Recital", guide: "Guide", faq: "FAQ", cnil_decision: "CNIL" } }
  }[lang];

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

  function escapeHtml(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function inline(text, prefix) {
    var out = escapeHtml(text);
    out = out.replace(/`([^`\n]+)`/g, "<code>$1</code>");
    out = out.replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>");
    out = out.replace(/(^|[\s(«“])_(\S(?:.*?\S)?)_(?=[\s.,;:!?)»”]|$)/g, "$1<em>$2</em>");
    out = out.replace(/\[(\d{1,2})\](?!\()/g, function (m, n) {
      return '<a class="cite" href="#' + prefix + n + '" aria-label="source ' + n + '">[' + n + "]</a>";
    });
    return out;
  }

  /* Headings, lists, paragraphs, bold, italics, code and [n] markers; nothing else becomes markup. */
  function renderMarkdown(text, prefix) {
    var html = [], para = [], items = [], tag = "";
    function flush() {
      if (para.length) { html.push("<p>" + para.map(function (p) { return inline(p, prefix); }).join("<br>") + "</p>"); para = []; }
      if (items.length) {
        html.push("<" + tag + ">" + items.map(function (i) { return "<li>" + inline(i, prefix) + "</li>"; }).join("") + "</" + tag + ">");
        items = []; tag = "";
      }
    }
    String(text).replace(/\r\n/g, "\n").split("\n").forEach(function (line) {
      var s = line.trim(), m;
      if (!s) { flush(); return; }
      if ((m = s.match(/^#{1,4}\s+(.*)$/))) { flush(); html.push("<h3>" + inline(m[1], prefix) + "</h3>"); return; }
      var ul = s.match(/^[-*•]\s+(.*)$/), ol = s.match(/^\d{1,3}[.)]\s+(.*)$/);
      if (ul || ol) {
        var t = ul ? "ul" : "ol";
        if (para.length || (items.length && tag !== t)) { flush(); }
        tag = t; items.push((ul || ol)[1]); return;
      }
      if (items.length) { flush(); }
      para.push(s);
    });
    flush();
    return html.join("");
  }

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
      var a = linkTarget(element("a", "card-title", "[" + (i + 1) + "] " + c.ref + " – " + c.title));
      a.href = c.page;
      li.appendChild(a);
      var official = linkTarget(element("a", "card-official", TEXT.official));
      official.href = c.url;
      official.rel = "noopener";
      li.appendChild(official);
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
    (referral.partners || []).forEach(function (p) {
      var item = element("p", "partner", p.name + (p.why && p.why.length ? " – " + p.why.join(", ") : ""));
      box.appendChild(item);
    });
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
      fetch("/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
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

  function finish(view, answer) {
    view.body.innerHTML = renderMarkdown(answer.answer, view.prefix);
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
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
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
        else if (name === "token") { text += data.text; view.body.innerHTML = renderMarkdown(text, view.prefix); }
        else if (name === "done") { done = true; finish(view, data); }
        else if (name === "error") { done = true; showError(view, data.message); }
      }
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            buffer = parseEvents(buffer + decoder.decode() + "\n\n", handle);
            if (!done) { showError(view, "stream interrupted"); }
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
