"""The answer service: scope check, retrieval, composition (grounded or LLM), citation check, referral.

``ask`` returns the JSON contract of DESIGN.md; ``ask_stream`` yields the same answer as events
(``sources``, ``token``..., ``done``); the ``done`` event always carries the final, verified text.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import InputError
from ..retrieval.retriever import HybridRetriever, Retrieval
from ..retrieval.text import analyze, detect_language
from ..types import Answer, Chunk, Citation, Hit
from .citations import SENTENCE, mentioned_articles, verify_answer
from .composer import LABELS, compose_grounded
from .conversations import ConversationStore
from .referral import build_referral
from .scope import check_scope, fixed_reply

log = logging.getLogger(__name__)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
LEXICAL_CONFIDENT = 6.0  # BM25 score of the best lexical match above which the question is covered
UNDECIDED_COVERAGE = 0.7  # share of the question's words the best sources must contain to answer...
OFF_TOPIC_COVERAGE = 0.5  # ...and below which a question without GDPR vocabulary is off topic

NO_ANSWER = {
    "fr": ("Je ne trouve rien d'assez fiable dans le RGPD, les décisions de la CNIL ou notre FAQ pour répondre à "
           "cette question. Reformulez-la, ou faites-vous accompagner par un délégué à la protection des données "
           "(DPO) : nous pouvons vous mettre en relation avec un DPO partenaire."),
    "en": ("I cannot find anything reliable enough in the GDPR, the CNIL's decisions or our FAQ to answer this "
           "question. Try rephrasing it, or get help from a data protection officer (DPO): we can put you in "
           "touch with a partner DPO."),
}


def validate_question(question, max_chars: int) -> str:
    """The question stripped, or an InputError saying what is wrong with it."""
    if not isinstance(question, str):
        raise InputError("the question must be text", code="invalid_type")
    if CONTROL.search(question):
        raise InputError("the question contains binary or control characters; send plain text",
                         code="binary_input")
    q = question.strip()
    if not q:
        raise InputError("the question is empty; type a question about the GDPR", code="empty_question")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q)} characters long; the limit is {max_chars}",
                         code="question_too_long", http_status=413)
    return q


def citation_from_hit(hit: Hit, max_score: float) -> Citation:
    """The contract's citation for a retrieved chunk; score is the fused score scaled to [0, 1]."""
    c = hit.chunk
    return Citation(kind=c.kind, ref=c.ref or c.title, article=c.article, paragraph=c.paragraph,
                    title=c.title, url=c.url, page=c.page, updated=c.updated,
                    score=round(min(1.0, hit.score / max_score), 3) if max_score else 0.0)


@dataclass
class Prepared:
    """Everything decided before the answer text is written."""

    question: str
    lang: str
    status: str
    scope: str
    hits: list[Hit]
    citations: tuple[Citation, ...]
    retrieval: Retrieval | None
    t0: float
    t_retrieved: float


class AnswerService:
    """Answers questions from the index; one instance per process, safe to share between threads."""

    def __init__(self, settings, retriever: HybridRetriever, llm=None, conversations: ConversationStore | None = None):
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.conversations = (conversations if conversations is not None
                              else ConversationStore(ttl_seconds=settings.conversation_ttl))
        self.metrics: Counter = Counter()
        self._metrics_lock = threading.Lock()
        chunks = retriever.index.chunks.values()
        self.doc_chunks: dict[str, list[Chunk]] = {}
        for c in chunks:
            self.doc_chunks.setdefault(c.doc_id, []).append(c)
        self.known_decisions = {c.ref.removeprefix("CNIL ").strip() for c in chunks if c.kind == "cnil_decision"}

    def count(self, key: str, n: int = 1) -> None:
        """Add to a metric."""
        with self._metrics_lock:
            self.metrics[key] += n

    # -- the steps -------------------------------------------------------------------------------
    def prepare(self, question: str, conversation_id: str | None = None) -> Prepared:
        """Validate, check scope, retrieve and decide the status."""
        t0 = time.perf_counter()
        s = self.settings
        q = validate_question(question, s.max_question_chars)
        context = self.conversations.context_for(conversation_id, q)  # raises on unknown ids
        lang = detect_language(q, s.default_language)
        scope = check_scope(q)
        verdict = scope.verdict
        if verdict == "undecided" and context:
            verdict = "in_scope"  # a short follow-up inherits the topic of the conversation
        if scope.refused:
            return Prepared(q, lang, "out_of_scope", verdict, [], (), None, t0, time.perf_counter())
        r = self.retriever.retrieve(q, context=context, language=lang)
        status = "answered"
        covered = r.best_similarity >= s.min_similarity or r.best_lexical >= LEXICAL_CONFIDENT
        if verdict == "undecided":
            # No GDPR vocabulary and no off-topic pattern: the sources decide. Far from everything is
            # off topic; partly covered gets an honest "I don't know" (and a DPO offer), not a refusal.
            coverage = self._coverage(q, lang, r) if r.hits else 0.0
            if r.best_similarity < s.min_similarity or coverage < OFF_TOPIC_COVERAGE:
                status, verdict = "out_of_scope", "off_topic"
            elif coverage < UNDECIDED_COVERAGE:
                status = "no_answer"
        elif not r.hits or not covered:
            status = "no_answer"
        max_score = (s.dense_weight + 2 * s.lexical_weight + 1) / (s.rrf_k + 1)
        citations = tuple(citation_from_hit(h, max_score) for h in r.hits) if status == "answered" else ()
        hits = r.hits if status == "answered" else []
        return Prepared(q, lang, status, verdict, hits, citations, r, t0, time.perf_counter())

    def _coverage(self, question: str, lang: str, r: Retrieval) -> float:
        """IDF-weighted share of the question's words found in the best sources (rare words count most)."""
        words = set(analyze(question, lang))
        if not words:
            return 0.0
        idf = self.retriever.index.lexical[lang].idf
        ceiling = max(idf.values(), default=1.0)
        seen: set[str] = set()
        for h in r.hits[:3]:
            seen |= set(analyze(h.chunk.search_text, lang))
        weight = {w: idf.get(w, ceiling) for w in words}  # a word the corpus never uses is as rare as it gets
        return sum(weight[w] for w in words & seen) / sum(weight.values())

    def _allowed_articles(self, hits: list[Hit]) -> set[int]:
        allowed = {h.chunk.article for h in hits if h.chunk.article is not None}
        for h in hits:
            allowed |= mentioned_articles(h.chunk.text)
        return allowed

    def _grounded_text(self, p: Prepared) -> str:
        return compose_grounded(p.hits, p.lang, self.doc_chunks).text

    def _text_for(self, p: Prepared, use_llm: bool = True) -> tuple[str, dict]:
        """The answer text (verified) and how it was produced."""
        if p.status == "out_of_scope":
            return fixed_reply(p.scope, p.lang), {"writer": "fixed"}
        if p.status == "no_answer":
            return NO_ANSWER[p.lang], {"writer": "fixed"}
        info = {"writer": "grounded"}
        text = None
        if self.llm is not None and use_llm:
            try:
                text = self.llm.write(p.question, p.lang, p.hits)
                info["writer"] = "llm"
            except Exception as e:  # any failure of the optional LLM: fall back, never fail the request
                log.warning("LLM failed (%s); grounded composer answers", type(e).__name__)
                self.count("llm_fallbacks")
                info["fallback"] = type(e).__name__
        if text is None:
            text = self._grounded_text(p)
        v = verify_answer(text, self._allowed_articles(p.hits), self.known_decisions, len(p.citations))
        if v.violations:
            self.count("citation_violations_removed", v.violations)
            info["removed"] = v.violations
        text = v.text
        if info["writer"] == "llm":
            text = f"{text}\n\n_{LABELS[p.lang]['notice']}_"
        return text, info

    def _finish(self, p: Prepared, text: str, info: dict, conversation_id: str | None, keep: bool) -> Answer:
        referral = build_referral(p.question, p.status, p.lang) if p.status != "out_of_scope" else None
        cid = None
        if keep:
            articles = tuple(c.article for c in p.citations if c.article is not None)
            cid = self.conversations.record(conversation_id, p.question, p.status, articles)
        self.count("questions")
        self.count(f"status_{p.status}")
        t2 = time.perf_counter()
        timings = {"retrieve": round((p.t_retrieved - p.t0) * 1000, 2),
                   "compose": round((t2 - p.t_retrieved) * 1000, 2),
                   "total": round((t2 - p.t0) * 1000, 2)}
        return Answer(answer=text, language=p.lang, status=p.status, citations=p.citations, referral=referral,
                      timings_ms=timings, conversation_id=cid, verification=info)

    # -- public ------------------------------------------------------------------------------------
    def ask(self, question: str, conversation_id: str | None = None, keep: bool = False) -> Answer:
        """Answer one question; ``keep`` stores the (redacted) turn so follow-ups can use it."""
        p = self.prepare(question, conversation_id)
        text, info = self._text_for(p)
        return self._finish(p, text, info, conversation_id, keep)

    def ask_stream(self, question: str, conversation_id: str | None = None,
                   keep: bool = False) -> Iterator[tuple[str, dict]]:
        """Events for one question: ('sources', ...), ('token', {'text'})..., ('done', answer)."""
        p = self.prepare(question, conversation_id)
        yield "sources", {"language": p.lang, "status": p.status,
                          "citations": [c.to_dict() for c in p.citations]}
        if self.llm is not None and p.status == "answered":
            streamed, info = yield from self._stream_llm(p)
            if streamed is None:  # the LLM failed: the grounded composer answers (done carries its text)
                text, grounded = self._text_for(p, use_llm=False)
                info.update(grounded)
                for piece in _pieces(text):
                    yield "token", {"text": piece}
            else:
                text = streamed
        else:
            text, info = self._text_for(p)
            for piece in _pieces(text):
                yield "token", {"text": piece}
        yield "done", self._finish(p, text, info, conversation_id, keep).to_dict()

    def _stream_llm(self, p: Prepared):
        """Stream LLM text sentence by sentence, each verified before it leaves; None on failure."""
        allowed = self._allowed_articles(p.hits)
        info: dict = {"writer": "llm"}
        buffer, kept = "", []
        try:
            for piece in self.llm.stream(p.question, p.lang, p.hits):
                buffer += piece
                parts = SENTENCE.split(buffer)
                for sentence in parts[:-1]:
                    ok = self._verified_sentence(sentence, allowed, len(p.citations))
                    if ok:
                        kept.append(ok)
                        yield "token", {"text": ok + " "}
                buffer = parts[-1]
            if buffer.strip():
                ok = self._verified_sentence(buffer, allowed, len(p.citations))
                if ok:
                    kept.append(ok)
                    yield "token", {"text": ok}
        except Exception as e:
            log.warning("LLM stream failed (%s); grounded composer answers", type(e).__name__)
            self.count("llm_fallbacks")
            return None, {"fallback": type(e).__name__, "writer": "grounded"}
        if not kept:
            self.count("llm_fallbacks")
            return None, {"fallback": "empty", "writer": "grounded"}
        notice = f"\n\n_{LABELS[p.lang]['notice']}_"
        yield "token", {"text": notice}
        return " ".join(kept) + notice, info

    def _verified_sentence(self, sentence: str, allowed: set[int], n: int) -> str:
        v = verify_answer(sentence, allowed, self.known_decisions, n)
        if v.violations:
            self.count("citation_violations_removed", v.violations)
        return v.text.strip()


def _pieces(text: str, words: int = 4) -> Iterator[str]:
    """Split a finished text into small token events (keeps spacing and newlines)."""
    parts = re.split(r"(\s+)", text)
    buf = []
    count = 0
    for part in parts:
        buf.append(part)
        if part.strip():
            count += 1
            if count >= words:
                yield "".join(buf)
                buf, count = [], 0
    if buf:
        yield "".join(buf)
