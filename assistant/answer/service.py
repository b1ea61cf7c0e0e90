"""The answer service: checks a question, retrieves, composes a cited answer (the JSON contract)."""

from __future__ import annotations

import re
import time

from ..errors import InputError
from ..retrieval.retriever import HybridRetriever, Retrieval
from ..types import Answer, Citation, Hit

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

TEXTS = {
    "fr": {
        "lead": "Voici ce que disent les sources les plus pertinentes :",
        "provisions": "Texte applicable",
        "none": ("Je ne trouve rien de suffisamment pertinent dans le RGPD, les décisions de la CNIL ou notre FAQ "
                 "pour répondre de façon fiable. Reformulez votre question, ou faites-vous accompagner par un "
                 "délégué à la protection des données (DPO)."),
        "notice": "Information générale, pas un conseil juridique.",
    },
    "en": {
        "lead": "Here is what the most relevant sources say:",
        "provisions": "Applicable text",
        "none": ("I cannot find anything relevant enough in the GDPR, the CNIL's decisions or our FAQ to answer "
                 "reliably. Try rephrasing your question, or get help from a data protection officer (DPO)."),
        "notice": "General information, not legal advice.",
    },
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


def _excerpt(text: str, limit: int = 420) -> str:
    first = text.strip().split("\n\n")[0].strip()
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def compose_passages(retrieval: Retrieval, lang: str, n: int = 3) -> str:
    """The best passages, each with its reference (a plain, grounded answer)."""
    t = TEXTS[lang]
    lines = [t["lead"], ""]
    for i, hit in enumerate(retrieval.hits[:n], start=1):
        c = hit.chunk
        lines.append(f"{i}. **{c.ref or c.title}** – {c.title}\n   {_excerpt(c.text)} [{i}]")
    lines += ["", f"_{t['notice']}_"]
    return "\n".join(lines)


class AnswerService:
    """Answers questions from the index; one instance per process."""

    def __init__(self, settings, retriever: HybridRetriever):
        self.settings = settings
        self.retriever = retriever

    def ask(self, question: str) -> Answer:
        """Answer one question (validated first)."""
        t0 = time.perf_counter()
        q = validate_question(question, self.settings.max_question_chars)
        r = self.retriever.retrieve(q)
        t1 = time.perf_counter()
        s = self.settings
        max_score = (s.dense_weight + 2 * s.lexical_weight) / (s.rrf_k + 1)
        lang = r.language
        if not r.hits or r.best_similarity < s.min_similarity:
            status, text, citations = "no_answer", TEXTS[lang]["none"], ()
        else:
            status = "answered"
            text = compose_passages(r, lang)
            citations = tuple(citation_from_hit(h, max_score) for h in r.hits)
        t2 = time.perf_counter()
        return Answer(answer=text, language=lang, status=status, citations=citations, referral=None,
                      timings_ms={"retrieve": round((t1 - t0) * 1000, 2), "compose": round((t2 - t1) * 1000, 2),
                                  "total": round((t2 - t0) * 1000, 2)})
