"""The answer service: scope check, retrieval, composition (grounded or LLM), citation check, referral.

``ask`` returns the answer (``to_dict()`` is the JSON contract of DESIGN.md); ``ask_stream`` yields
the same answer as events (``sources``, ``token``..., ``done``); the ``done`` event always carries
the final, verified Answer.
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
from ..privacy.redact import redact
from ..retrieval.embeddings import limit_blas_threads
from ..retrieval.query import QuestionInfo, analyze_question
from ..retrieval.retriever import HybridRetriever, Retrieval
from ..retrieval.text import detect_language
from ..texts import N_, translate
from ..types import Answer, Chunk, Citation, Hit
from .citations import MARKER, mentioned_articles, verify_answer
from .composer import Composer, label
from .conversations import ConversationStore
from .referral import build_referral, seeks_dpo
from .scope import ScopeClassifier, ScopeDecision, check_rules, fixed_reply

log = logging.getLogger(__name__)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_METRICS_LOCK = threading.Lock()  # one for every service of the process (they may share their counters)
LEXICAL_CONFIDENT = 6.0  # BM25 score of the best lexical match above which the question is covered

NO_ANSWER = N_("I cannot find anything reliable enough in the GDPR, the CNIL's decisions or our FAQ to answer this question. Try rephrasing it, or get help from a data protection officer (DPO): we can put you in touch with a partner DPO.")


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


def citation_for(chunk: Chunk, score: float) -> Citation:
    """The contract's citation for a source the answer uses."""
    return Citation(kind=chunk.kind, ref=chunk.ref or chunk.title, article=chunk.article, paragraph=chunk.paragraph,
                    title=chunk.title, url=chunk.url, page=chunk.page, updated=chunk.updated,
                    score=round(max(0.0, min(1.0, score)), 3))


@dataclass
class Prepared:
    """Everything decided before the answer text is written."""

    question: str
    lang: str
    status: str
    scope: ScopeDecision
    hits: list[Hit]
    retrieval: Retrieval | None
    info: QuestionInfo
    t0: float
    t_retrieved: float


@dataclass
class Written:
    """An answer text, the sources it uses (in order of first use) and how it was produced."""

    text: str
    sources: list[Chunk]
    info: dict


class AnswerService:
    """Answers questions from the index; one instance per process, safe to share between threads."""

    def __init__(self, settings, retriever: HybridRetriever, llm=None, conversations: ConversationStore | None = None,
                 scope: ScopeClassifier | None = None, metrics: Counter | None = None):
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.conversations = (conversations if conversations is not None
                              else ConversationStore(ttl_seconds=settings.conversation_ttl))
        self.metrics: Counter = metrics if metrics is not None else Counter()  # shared by a reloaded service
        self._metrics_lock = _METRICS_LOCK
        chunks = retriever.index.chunks.values()
        self.doc_chunks: dict[str, list[Chunk]] = {}
        for c in chunks:
            self.doc_chunks.setdefault(c.doc_id, []).append(c)
        self.known_decisions = {c.ref.removeprefix("CNIL ").strip() for c in chunks if c.kind == "cnil_decision"}
        questions: dict[tuple[str, str], list[str]] = {}
        for k in retriever.index.keys:
            if k.source == "question":
                questions.setdefault((k.group, k.lang), []).append(k.text)
        self.composer = Composer(self.doc_chunks, {lg: idx.idf for lg, idx in retriever.index.lexical.items()},
                                 questions)
        self.scope = scope if scope is not None else ScopeClassifier.load(retriever.index.path)
        limit_blas_threads()  # scikit-learn brings its own OpenBLAS: one thread, as for numpy

    def count(self, key: str, n: int = 1) -> None:
        """Add to a metric."""
        with self._metrics_lock:
            self.metrics[key] += n

    # -- the steps -------------------------------------------------------------------------------
    def classify(self, question: str, lang: str, context: str = "") -> tuple[ScopeDecision, object]:
        """Scope verdict of a question, and its query vector (reused by retrieval; None without one)."""
        rules = check_rules(question)
        if rules is not None:
            return rules, None
        qvec = self.retriever.query_vector(question, lang)
        if self.scope is None:
            return ScopeDecision("in_scope"), qvec
        import numpy as np

        decision = self.scope.decide(question, qvec if qvec is not None else np.zeros(self.scope_dim(), np.float32))
        if decision.verdict == "off_topic" and (context or seeks_dpo(question)):
            # A follow-up inherits the topic; a request for a DPO is what the referral is for (a DPO merely
            # mentioned is not one: "our outsourced DPO's fees, are they tax-deductible?" stays off topic).
            decision = ScopeDecision("in_scope", decision.probabilities)
        return decision, qvec

    def scope_dim(self) -> int:
        """Dimension of the embeddings the scope classifier expects."""
        return int(self.scope.model.coef_.shape[1] - sum(len(v.vocabulary_) for v in self.scope.vectorizers))

    def prepare(self, question: str, conversation_id: str | None = None) -> Prepared:
        """Validate, check scope, retrieve and decide the status."""
        t0 = time.perf_counter()
        s = self.settings
        q = validate_question(question, s.max_question_chars)
        context = self.conversations.context_for(conversation_id, q)  # raises on unknown ids
        lang = detect_language(q, s.default_language)
        info = analyze_question(q)
        decision, qvec = self.classify(q, lang, context)
        if decision.refused:
            return Prepared(q, lang, "out_of_scope", decision, [], None, info, t0, time.perf_counter())
        r = self.retriever.retrieve(q, context=context, language=lang, qvec=None if context else qvec)
        covered = r.best_similarity >= s.min_similarity or r.best_lexical >= LEXICAL_CONFIDENT
        status = "answered" if r.hits and covered else "no_answer"
        hits = r.hits if status == "answered" else []
        return Prepared(q, lang, status, decision, hits, r, info, t0, time.perf_counter())

    def _allowed_articles(self, sources: list[Chunk]) -> set[int]:
        allowed = {c.article for c in sources if c.article is not None}
        for c in sources:
            allowed |= mentioned_articles(c.text)
        return allowed

    def _score(self, p: Prepared, chunk: Chunk) -> float:
        """Relevance of a used source: its hit's, else the lead's (it was chosen to support the lead)."""
        for h in p.hits:
            if h.chunk.group == chunk.group:
                return h.score
        return p.hits[0].score if p.hits else 0.0

    def _grounded(self, p: Prepared) -> Written:
        comp = self.composer.compose(p.question, p.info, p.lang, p.hits)
        info = {"writer": "grounded", "lead": comp.lead_kind}
        if comp.yes_no is not None:
            info["yes_no"] = comp.yes_no
        if comp.corrections:
            info["corrections"] = list(comp.corrections)
        return Written(comp.text, list(comp.used), info)

    def _verified(self, text: str, sources: list[Chunk], info: dict, notice: bool = False) -> Written:
        """The text with unsupported references removed, its markers renumbered to the sources it uses."""
        allowed = self._allowed_articles(sources)
        for correction in info.get("corrections", []):
            allowed |= mentioned_articles(correction)  # "there is no Article 101" names it on purpose
        v = verify_answer(text, allowed, self.known_decisions, len(sources))
        if v.violations:
            self.count("citation_violations_removed", v.violations)
            info["removed"] = v.violations
        text, used = renumber_markers(v.text, sources)
        if notice:
            text = f"{text}\n\n_{label(info.get('lang', 'fr'), 'notice')}_"
        return Written(text, used, info)

    def _write(self, p: Prepared, use_llm: bool = True) -> Written:
        """The answer text (verified) and the sources it uses."""
        if p.status == "out_of_scope":
            return Written(fixed_reply(p.scope, p.lang), [], {"writer": "fixed", "scope": p.scope.verdict})
        if p.status == "no_answer":
            return Written(translate(p.lang, NO_ANSWER), [], {"writer": "fixed"})
        if self.llm is not None and use_llm:
            try:
                text = self.llm.write(redact(p.question)[0], p.lang, p.hits)
                return self._verified(text, [h.chunk for h in p.hits], {"writer": "llm", "lang": p.lang}, notice=True)
            except Exception as e:  # any failure of the optional LLM: fall back, never fail the request
                log.warning("LLM failed (%s); grounded composer answers", type(e).__name__)
                self.count("llm_fallbacks")
                written = self._grounded(p)
                written.info["fallback"] = type(e).__name__
                return self._verified(written.text, written.sources, written.info)
        written = self._grounded(p)
        return self._verified(written.text, written.sources, written.info)

    def _finish(self, p: Prepared, written: Written, conversation_id: str | None, keep: bool) -> Answer:
        referral = build_referral(p.question, p.status, p.lang) if p.status != "out_of_scope" else None
        citations = tuple(citation_for(c, self._score(p, c)) for c in written.sources)
        cid = None
        if keep:
            articles = tuple(c.article for c in citations if c.article is not None)
            cid = self.conversations.record(conversation_id, p.question, p.status, articles)
        self.count("questions")
        self.count(f"status_{p.status}")
        t2 = time.perf_counter()
        timings = {"retrieve": round((p.t_retrieved - p.t0) * 1000, 2),
                   "compose": round((t2 - p.t_retrieved) * 1000, 2),
                   "total": round((t2 - p.t0) * 1000, 2)}
        verification = {k: v for k, v in written.info.items() if k != "lang"}
        verification["scope"] = p.scope.verdict
        if p.scope.category:
            verification["abuse"] = p.scope.category
        if p.retrieval is not None:
            verification["retrieved"] = [{"ref": h.chunk.ref, "group": h.chunk.group, "kind": h.chunk.kind,
                                          "article": h.chunk.article, "articles": list(h.chunk.articles[:3]), "title": h.chunk.title,
                                          "score": round(h.score, 3)} for h in p.retrieval.hits]
            if p.retrieval.degraded:
                verification["degraded"] = p.retrieval.degraded
        return Answer(answer=written.text, language=p.lang, status=p.status, citations=citations, referral=referral,
                      timings_ms=timings, conversation_id=cid, verification=verification)

    # -- public ------------------------------------------------------------------------------------
    def ask(self, question: str, conversation_id: str | None = None, keep: bool = False) -> Answer:
        """Answer one question; ``keep`` stores the (redacted) turn so follow-ups can use it."""
        p = self.prepare(question, conversation_id)
        return self._finish(p, self._write(p), conversation_id, keep)

    def ask_stream(self, question: str, conversation_id: str | None = None,
                   keep: bool = False) -> Iterator[tuple[str, dict]]:
        """Events for one question: ('sources', ...), ('token', {'text'})..., ('done', Answer).

        With an LLM, tokens are verified sentence by sentence before they leave; if the LLM fails
        midway, a ('reset', ...) event tells the client to drop what it received, then the grounded
        answer follows. The ``done`` event always carries the final, verified text and citations.
        """
        p = self.prepare(question, conversation_id)
        if self.llm is not None and p.status == "answered":
            yield "sources", {"language": p.lang, "status": p.status,
                              "citations": [citation_for(h.chunk, h.score).to_dict() for h in p.hits]}
            written = yield from self._stream_llm(p)
            if written is None:  # the LLM failed: the grounded composer answers
                written = self._write(p, use_llm=False)
                for piece in _pieces(written.text):
                    yield "token", {"text": piece}
        else:
            written = self._write(p)
            yield "sources", {"language": p.lang, "status": p.status,
                              "citations": [citation_for(c, self._score(p, c)).to_dict() for c in written.sources]}
            for piece in _pieces(written.text):
                yield "token", {"text": piece}
        yield "done", self._finish(p, written, conversation_id, keep)

    def _stream_llm(self, p: Prepared):
        """Stream LLM text sentence by sentence, each verified before it leaves; None on failure."""
        sources = [h.chunk for h in p.hits]
        allowed = self._allowed_articles(sources)
        buffer, sent = "", []
        try:
            for piece in self.llm.stream(redact(p.question)[0], p.lang, p.hits):
                buffer += piece
                # Split after sentence ends and line breaks, keeping the separators (newlines survive).
                parts = re.split(r"((?<=[.!?])[ \t]+|\n+)", buffer)
                complete, buffer = parts[:-1], parts[-1]
                for i in range(0, len(complete), 2):
                    sentence, sep = complete[i], complete[i + 1] if i + 1 < len(complete) else ""
                    ok = self._verified_sentence(sentence, allowed, len(sources)) if sentence.strip() else ""
                    out = (ok + sep) if ok else ("\n" if "\n" in sep else "")
                    if out:
                        sent.append(out)
                        yield "token", {"text": out}
            if buffer.strip():
                ok = self._verified_sentence(buffer, allowed, len(sources))
                if ok:
                    sent.append(ok)
                    yield "token", {"text": ok}
        except Exception as e:
            log.warning("LLM stream failed (%s); grounded composer answers", type(e).__name__)
            self.count("llm_fallbacks")
            if sent:
                yield "reset", {"reason": "the writer failed; the grounded answer follows"}
            return None
        text = "".join(sent).strip()
        if not text:
            self.count("llm_fallbacks")
            return None
        written = self._verified(text, sources, {"writer": "llm", "lang": p.lang}, notice=True)
        notice = f"\n\n_{label(p.lang, 'notice')}_"
        yield "token", {"text": notice}
        return written

    def _verified_sentence(self, sentence: str, allowed: set[int], n: int) -> str:
        v = verify_answer(sentence, allowed, self.known_decisions, n)
        if v.violations:
            self.count("citation_violations_removed", v.violations)
        return v.text.strip()


def renumber_markers(text: str, sources: list[Chunk]) -> tuple[str, list[Chunk]]:
    """Keep only the sources the text cites, numbered 1..n in order of first use."""
    order: list[int] = []
    for m in MARKER.finditer(text):
        n = int(m.group(1))
        if 1 <= n <= len(sources) and n not in order:
            order.append(n)
    mapping = {old: new for new, old in enumerate(order, start=1)}
    text = MARKER.sub(lambda m: f"[{mapping[int(m.group(1))]}]" if int(m.group(1)) in mapping else "", text)
    return text, [sources[i - 1] for i in order]


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
