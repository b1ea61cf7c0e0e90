"""The grounded composer (default, no LLM, deterministic): a cited answer built from ranked sources.

The visitor reads the first paragraph, so it answers the question asked:
- a correction first when the question rests on a false premise (an article that does not exist, a
  wrong deadline);
- for a yes/no question, Oui/Non (Yes/No) decided from the visitor's question against the source's
  own question, never copied blindly from the source's first word;
- the key fact the question type asks for (a deadline, an amount) in the first sentence;
- then the source's direct answer.
Below it: the most relevant details of that source, the exact provision in the question's
language, a CNIL sanction when the question is about sanctions, the practical steps of the guide.
Every block ends with the [n] marker of the source it comes from; the citations are exactly the
sources used, in the order of first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..corpus.chunking import split_sections
from ..retrieval.query import QuestionInfo, asks_about_sanctions, duration_spans, has_amount, has_duration
from ..retrieval.text import analyze, fold
from ..texts import N_, translate
from ..types import Chunk, Hit
from . import polarity
from .premises import (
    NO_FIXED,
    NO_SUCH_STEP,
    Correction,
    check_articles,
    check_duration,
    check_misnamed_article,
)

LABELS = {
    "text": N_("What the text says"), "sanction": N_("A CNIL sanction in point"), "practice": N_("In practice"),
    "detail": N_("Good to know"), "other_lang": N_("(source available in French only)"),
    "notice": N_("General information, not legal advice."),
}
# Headings of our own guides and FAQ items the composer looks for (corpus structure, not UI text).
HEADINGS = {
    "fr": {"practice_heading": ("en pratique pour une pme", "en pratique"),
           "rules_heading": ("ce que l'article exige", "en detail", "ce que prevoit", "les regles")},
    "en": {"practice_heading": ("in practice for an sme", "in practice"),
           "rules_heading": ("what the article requires", "in detail", "what it requires", "the rules")},
}


def label(lang: str, key: str) -> str:
    """A composer label in ``lang`` (from the catalogues)."""
    return translate(lang, LABELS[key])


ABBREVIATIONS = re.compile(r"(\b(art|arts|Art|Arts|p|pp|ex|cf|etc|n°|no|M|Mme|St|e\.g|i\.e|vs|al)\.|\b[A-Z]\.)$")
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+")
LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
ENUMERATION = re.compile(r"(?<=[;:])\s+(?=(?:[a-z]|\d{1,2}|[ivx]{1,4})\)\s)")
# Oui/Non is carried over from an FAQ item only when the ranker is this sure the item answers the
# visitor's question: an item on the general case must not say "Oui" to a question on an exception.
YES_NO_CONFIDENCE = 0.6
SAME_QUESTION = 0.7  # ...and when the visitor's question covers this much of the source's own question
MIN_PROVISION_RELEVANCE = 0.15
# A second FAQ item is answered too when its score is this close to the lead's (and it shares enough
# of the question's words): situations often span two questions.
DETAIL_LINES = 10  # lines of the lead FAQ item's explanation kept (the most relevant, in order)
SECOND_SOURCE_RATIO = 0.5
SECOND_SOURCE_DEPTH = 4
SECOND_SOURCE_MIN = 0.2
SECOND_SOURCE_RELEVANCE = 0.05  # share of the question's (weighted) words a quoted provision must contain
def key_fact_test(info: QuestionInfo):
    """What the first sentence must state for this question: a duration, an amount, or nothing in particular."""
    kinds = [info.type] if info.type in ("deadline", "amount") else sorted(info.wants)
    tests = {"deadline": has_duration, "amount": has_amount}
    return tests.get(kinds[0]) if kinds else None


CONNECTIVE = re.compile(r"^(sauf|à\s+condition|a\s+condition|si\b|mais|seulement|uniquement|pas\s|unless|provided|"
                        r"only|if\b|but|except|not\s)", re.I)
# What follows a source's "Yes, ..." that cannot stand without it: "When it offers goods or services...",
# "In almost every case, because...", "Pour des motifs précis : ...". Without the word it reads as an
# answer to nothing: the source's question is quoted with its word instead.
FRAGMENT = re.compile(r"^(when|whenever|where|as\s+(a|an|soon|long)\b|to\s+(certified|some|any)|for\s+(specific|most|payroll|some)|"
                      r"on\s+(one|two|three)\s+conditions?|in\s+(almost|most|the\s+vast|many|some|certain)\b|"
                      r"lorsqu|quand\b|pour\s+(des|la|les|certains|la\s+plupart)\b|dans\s+(la\s+(quasi|plupart|grande)|certains)\b|"
                      r"d[eè]s\s+qu|tant\s+qu|en\s+(principe|general|g[eé]n[eé]ral)\b|au\s+cas)", re.I)
# A sentence that refers back to what came before it ("Ce délai peut être allongé de six semaines",
# "It must then be notified") cannot be moved to the front of an answer: it would answer with an
# antecedent the visitor never read. ("Il faut", "Il existe" are impersonal and stand alone.)
ANAPHORA = re.compile(r"^\W*(ce|cet|cette|ces|cela|ceci|celui|celle|ceux|celles|elle|elles|ils|this|that|these|those|"
                      r"it|they|such)\b", re.I)
CLAUSE_BREAK = re.compile(r"[:;?!…()]|\.\s|,\s")  # a claim is checked clause by clause
STATED_SUBJECT = 0.75  # share of the subject a visitor gives an article ("article 17 on access") an article's title must hold
CLAIM_TOPIC = 0.2  # share of the claim's (weighted) words a source's question must contain to name its topic
# Words of a claim that say who claims it, not what it is about ("mon associé dit que l'article 17...").
CLAIM_WORDS = "RGPD GDPR article dit disent affirme selon says say told read lu entendu"
CLAIM_DURATION_TOPIC = 0.15  # the same for a claimed duration, over an item's question and direct answer
LEAD_BONUS = 0.5  # relevance added to a key-fact sentence from a source's direct answer
# A figure is borrowed from a later source only when the ranker finds it at least this share as relevant as
# the lead: a stolen laptop's "how fast?" must not be answered with the 3 years prospects' data are kept.
KEY_FACT_SHARE = 0.2
# An example figure leads despite "no fixed period" only when it names what the question names: at least
# this much IDF of question words outside the no-figure sentence and the duration words ("bulletin de
# paie" 8, "factures" 3.8; "clients" 2.3 is not enough: "customer data" has no single period).
NAMED_EXAMPLE = 3.5
# FAQ items the ranker scores nearly alike (at least this share of the lead's score, among the first
# three): the one whose own question (title or phrasing) shares clearly more of the visitor's words leads.
# Chosen on the tuning sets (0.8 or a 0.2 margin did worse); issue 8: "a FAQ item whose own question
# matches leads".
CLOSE_CALL = 0.9
CLOSE_CALL_MARGIN = 0.1
CLOSE_CALL_DEPTH = 3
DURATION_WORDS = ("durée délai conserver conservation garder combien temps jours mois ans années how long keep kept "
                  "retention retain period duration days months years")
EXAMPLE_OPENING = re.compile(r"^(par\s+exemple|for\s+example|for\s+instance|ainsi|notamment)\s*,\s*", re.I)
# The lead names its legal basis: a lead that cites no article ends with its source's governing GDPR
# article, unless the source rests first on another text (French law, the CPCE, a directive) or names one.
CITES_TEXT = re.compile(r"\b(art\.?|articles?)\s*\d|\b(loi|code|cpce|directive|data\s+protection\s+act)\b|\bl\.\s*\d", re.I)
OTHER_TEXT = re.compile(r"\b(loi|act|code|cpce|directive|ordonnance|decret|decree|cnil)\b", re.I)


def governing_article(c: Chunk) -> int | None:
    """The GDPR article a source is first about: an article's own number, a guide's article, the first
    article an FAQ item lists when its first source is the GDPR."""
    if c.kind != "faq" or not c.article:
        return c.article if c.kind in ("gdpr_article", "guide") else None
    sources = [body for heading, body in split_sections(c.text) if fold(heading) == "sources"]
    first = next((ln for ln in sources[0].splitlines() if ln.strip()), "") if sources else ""
    if first and OTHER_TEXT.search(fold(first)) and not re.search(r"\b(rgpd|gdpr)\b", fold(first)):
        return None
    return c.article


@dataclass(frozen=True)
class Composition:
    """A composed answer: Markdown with [n] markers, and the sources it uses in order of first use."""

    text: str
    used: tuple[Chunk, ...]
    yes_no: bool | None = None
    corrections: tuple[str, ...] = ()
    lead_kind: str = ""
    sections: dict = field(default_factory=dict, compare=False)


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph (abbreviations such as 'art.' do not end a sentence)."""
    text = " ".join(text.split())
    pieces = SENTENCE_BREAK.split(text)
    out: list[str] = []
    for p in pieces:
        if out and (ABBREVIATIONS.search(out[-1]) or (p[:1].islower() or p[:1].isdigit())):
            out[-1] += " " + p
        else:
            out.append(p)
    return [s for s in out if s.strip()]


def first_paragraph(text: str) -> str:
    """The first paragraph of a Markdown text (the direct answer of FAQ items and guides)."""
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip()
        if para and not para.startswith("#"):
            return para
    return text.strip()


def excerpt(text: str, limit: int = 420) -> str:
    """Whole sentences from the start of a text, up to about ``limit`` characters (at least one)."""
    out = []
    for s in sentences(text):
        if out and len(" ".join(out)) + len(s) > limit:
            break
        out.append(s)
    return " ".join(out)


def renumber(lines: list[str]) -> list[str]:
    """Numbered list items numbered 1, 2, 3... again after some were dropped."""
    n = 0
    out = []
    for line in lines:
        m = re.match(r"^(\s*)\d{1,2}([.)])\s+", line)
        if m:
            n += 1
            line = f"{m.group(1)}{n}{m.group(2)} " + line[m.end():]
        out.append(line)
    return out


def _plain(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def without_repeats(lines: list[str], said: str) -> list[str]:
    """``lines`` less the sentences already in ``said``; a line left with nothing of its own is dropped."""
    if not said:
        return lines
    told = _plain(said)
    out = []
    for line in lines:
        m = LIST_LINE.match(line)
        marker, body = (line[:m.end()], line[m.end():]) if m else ("", line)
        parts = sentences(body)
        kept = [p for p in parts if len(_plain(p)) <= 25 or _plain(p) not in told]
        if len(kept) == len(parts):
            out.append(line)
        elif kept and len(_plain(" ".join(kept)).strip(" :*")) > 25:
            out.append(marker + " ".join(kept))
    return out


class Composer:
    """Composes grounded answers; knows every chunk of every document (for provisions and steps)."""

    def __init__(self, doc_chunks: dict[str, list[Chunk]], idf: dict[str, dict[str, float]],
                 questions: dict[str, list[str]] | None = None):
        self.doc_chunks = doc_chunks
        self.idf = idf
        self.questions = questions or {}  # (group, lang) -> the other phrasings of a source's question
        self.titles: dict[str, dict[int, str]] = {"fr": {}, "en": {}}
        for chunks in doc_chunks.values():
            for c in chunks:
                if c.kind == "gdpr_article" and c.article is not None:
                    self.titles[c.lang].setdefault(c.article, c.title.split(" – ", 1)[-1])

    # -- scoring ---------------------------------------------------------------------------------
    def relevance(self, q_stems: set[str], text: str, lang: str) -> float:
        """IDF-weighted share of the question's words found in a text."""
        if not q_stems:
            return 0.0
        idf = self.idf.get(lang, {})
        words = set(analyze(text, lang))
        total = sum(idf.get(s, 1.0) for s in q_stems)
        return sum(idf.get(s, 1.0) for s in q_stems & words) / total if total else 0.0

    def _best_lines(self, lines: list[str], q_stems: set[str], lang: str, keep: int) -> list[str]:
        """The ``keep`` most relevant lines, in their original order, never a list's header without items.

        A line ending with ':' introduces the items under it: it is kept only with at least one of
        them, and an item is kept with its header, so no heading is left hanging.
        """
        if len(lines) <= keep:
            return lines
        header_of: dict[int, int] = {}
        current = None
        for i, ln in enumerate(lines):
            if ln.rstrip().endswith(":") and not LIST_LINE.match(ln):
                current = i
            elif LIST_LINE.match(ln) and current is not None:
                header_of[i] = current
            else:
                current = None
        scored = sorted((i for i in range(len(lines)) if i not in header_of.values() or i in header_of),
                        key=lambda i: (-(self.relevance(q_stems, lines[i], lang) + (0.05 if i == 0 else 0.0)), i))
        chosen: list[int] = []
        for i in scored:
            if lines[i].rstrip().endswith(":") and not LIST_LINE.match(lines[i]):
                continue  # headers come in only with their items
            need = [i] + ([header_of[i]] if i in header_of and header_of[i] not in chosen else [])
            if len(chosen) + len(need) > keep and chosen:
                continue
            chosen.extend(need)
            if len(chosen) >= keep:
                break
        return [lines[i] for i in sorted(chosen)]

    # -- parts -------------------------------------------------------------------------------------
    def _lead(self, question: str, info: QuestionInfo, lang: str, hit: Hit, q_stems: set[str]):
        """The direct answer from the lead source: (text, yes/no or None)."""
        c = hit.chunk
        qual = ""
        if c.kind == "faq":
            para, quote = first_paragraph(c.text), ""
            said, rest = polarity.source_answer(para)
            yn = None
            if said is not None:
                if info.yesno and hit.score >= YES_NO_CONFIDENCE and \
                        self.same_question(question, c, lang) >= SAME_QUESTION:
                    yn, rest = polarity.decide(question, c.title, para)
                if yn is not None and yn == said:
                    yn = None  # the source's own words already answer the same question: keep them
                elif yn is not None:
                    qual, para = polarity.qualifier(para), rest
                elif CONNECTIVE.match(rest) or FRAGMENT.match(rest) or info.yesno:
                    # "Non, sauf si..." cannot lose its word, and a visitor asking yes or no wants it: when
                    # the source's question is not surely the visitor's, say which question it answers.
                    quote = f"« {c.title} » " if lang == "fr" else f"“{c.title}” "
                else:
                    para = rest
            parts = sentences(para)
            if quote and parts:  # added after the split: the quoted question stays with its answer
                parts[0] = quote + parts[0]
        elif c.kind == "guide":
            first = [x for x in self.doc_chunks.get(c.doc_id, []) if not x.section]
            summary = first_paragraph(first[0].text) if first else first_paragraph(c.text)
            parts = sentences(summary)
            yn = None
            if c.section and c.section.lower() not in ("sources",):
                # The section that matched may hold the precise answer: add its best sentence.
                extra = [x for ln in c.text.splitlines() if ln.strip() and not ln.startswith("#")
                         for x in sentences(LIST_LINE.sub("", ln.strip()))]
                best = max(extra, key=lambda s: self.relevance(q_stems, s, lang), default="")
                if best and self.relevance(q_stems, best, lang) > max(
                        (self.relevance(q_stems, s, lang) for s in parts), default=0.0):
                    parts = [LIST_LINE.sub("", best)] + parts[:1]
        elif c.kind == "cnil_decision":
            parts = sentences(first_paragraph(c.text))
            yn = None
        else:
            parts = sentences(excerpt(c.text, 500))
            yn = None
        parts = self._key_fact_first(parts, info, q_stems, lang, c)
        return " ".join(parts[:4]), yn, qual

    def _key_fact_elsewhere(self, info: QuestionInfo, hits: list[Hit], q_stems: set[str], lang: str,
                            lead_text: str) -> tuple[str, Chunk] | None:
        """When the lead does not state the deadline or amount asked for, the best sentence of the next
        sources (same language, FAQ or guide) that does, with its source."""
        test = key_fact_test(info)
        if test is None or test(lead_text):
            return None
        folded = fold(lead_text)
        if NO_FIXED.search(folded) or NO_SUCH_STEP.search(folded):
            return None  # "no single period", "abolished", "disproportionate": a borrowed figure would mislead
        best = None
        for h in hits[1:SECOND_SOURCE_DEPTH]:
            c = h.chunk
            if c.kind not in ("faq", "guide") or c.lang != lang or h.score < KEY_FACT_SHARE * hits[0].score:
                continue
            parts = [x for x in self.doc_chunks.get(c.doc_id, [c]) if x.lang == c.lang and
                     not x.section.lower().startswith(("source", "articles li", "related"))]
            for part in parts:
                # The first paragraph is the item's direct answer (corpus style): its figure is the
                # headline one ("up to 20 M€ or 4 %"), a detail's is a special case ("capped at 20 000 €
                # in the simplified procedure").
                lead_para = first_paragraph(part.text) if not part.section else ""
                for line in part.text.splitlines():
                    for sent in sentences(LIST_LINE.sub("", line.strip().lstrip("#").strip())):
                        if test(sent) and len(sent) > 25 and not ANAPHORA.match(sent):
                            score = self.relevance(q_stems, sent, lang) + (LEAD_BONUS if sent in lead_para else 0.0)
                            if best is None or score > best[0]:
                                best = (score, sent, part)
        return (best[1], best[2]) if best and best[0] > 0 else None

    def _second_source(self, question: str, lead_hit: Hit, hits: list[Hit], lang: str,
                       q_stems: set[str]) -> tuple[str, str, Chunk] | None:
        """The direct answer of the next FAQ item when it is nearly as relevant as the lead.

        A visitor's situation often spans two questions ("can we refuse this access request?" is
        both "must a request be justified?" and "when may a request be refused?"). The second
        item's own question is shown as its heading, so its Oui/Non reads as the answer to that
        question, not to the visitor's.
        """
        lead = lead_hit.chunk
        if lead.kind not in ("faq", "guide"):
            return None
        best = None
        for h in hits[1:SECOND_SOURCE_DEPTH]:
            c = h.chunk
            if c.kind != "faq" or c.lang != lang or c.doc_id == lead.doc_id or c.group == lead.group:
                continue
            if h.score < SECOND_SOURCE_RATIO * lead_hit.score or h.score < SECOND_SOURCE_MIN:
                continue
            text = excerpt(first_paragraph(c.text), 360)
            rel = self.relevance(q_stems, c.title + " " + text, lang)
            if text and rel >= SECOND_SOURCE_RELEVANCE and (best is None or rel > best[0]):
                best = (rel, c.title, text, c)
        return best[1:] if best else None

    def _closest_question_first(self, question: str, hits: list[Hit], lang: str) -> list[Hit]:
        """Of FAQ items ranked nearly alike, the one whose own question is most the visitor's leads."""
        lead = hits[0]
        if lead.chunk.kind != "faq" or lead.chunk.lang != lang:
            return hits
        best_i, best = 0, self.same_question(question, lead.chunk, lang)
        for i, h in enumerate(hits[1:CLOSE_CALL_DEPTH], 1):
            if h.chunk.kind == "faq" and h.chunk.lang == lang and h.score >= CLOSE_CALL * lead.score:
                sq = self.same_question(question, h.chunk, lang)
                if sq > best + CLOSE_CALL_MARGIN:
                    best_i, best = i, sq
        return [hits[best_i], *hits[:best_i], *hits[best_i + 1:]] if best_i else hits

    def same_question(self, question: str, c: Chunk, lang: str) -> float:
        """How much of what the source's own question asks the visitor's question also asks (best phrasing).

        IDF-weighted share of the phrasing's words found in the visitor's question: "Les données
        pseudonymisées sont-elles anonymes ?" and "... sont-elles des données personnelles ?" share
        the common words but not the one that carries the question, so a yes/no is not carried over.
        """
        asked = set(analyze(question, lang))
        idf = self.idf.get(lang, {})
        best = 0.0
        for phrasing in [c.title, *self.questions.get((c.group, c.lang), [])]:
            stems = set(analyze(phrasing, lang))
            total = sum(idf.get(s, 1.0) for s in stems)
            if total:
                best = max(best, sum(idf.get(s, 1.0) for s in stems & asked) / total)
        return best

    def _key_fact_first(self, parts: list[str], info: QuestionInfo, q_stems: set[str], lang: str,
                        chunk: Chunk) -> list[str]:
        """Put the sentence stating what the question type asks for (deadline, amount) first."""
        test = key_fact_test(info)
        if test is None or not parts or test(parts[0]):
            return parts
        if NO_FIXED.search(fold(" ".join(parts))):
            # "The GDPR sets no fixed figure": an example figure must not lead, unless the example is about
            # what the visitor named and the no-figure sentence is not ("bulletins de paie, combien de
            # temps ?" → "L'employeur conserve un double des bulletins de paie pendant 5 ans").
            i = self._named_example(parts, test, q_stems, lang)
            if i is None:
                return parts
            named = EXAMPLE_OPENING.sub("", parts[i])
            return [named[:1].upper() + named[1:]] + parts[:i] + parts[i + 1:]
        inside = [i for i, s in enumerate(parts) if test(s)]
        if inside:
            movable = [i for i in inside if not ANAPHORA.match(parts[i])]
            if not movable:
                return parts  # the fact is in the lead paragraph already, in a sentence that needs its context
            i = movable[0]
            return [parts[i]] + parts[:i] + parts[i + 1:]
        # Not in the lead paragraph: the best sentence of the same document that states it.
        pool = []
        for x in self.doc_chunks.get(chunk.doc_id, []):
            if x.lang != chunk.lang or x.section.lower().startswith(("source", "articles li", "related")):
                continue
            for line in x.text.splitlines():
                for s in sentences(LIST_LINE.sub("", line.strip().lstrip("#").strip())):
                    if test(s) and len(s) > 25 and not ANAPHORA.match(s):
                        pool.append(s)
        if pool:
            best = max(pool, key=lambda s: (self.relevance(q_stems, s, lang), -pool.index(s)))
            return [best] + parts
        return parts

    def _named_example(self, parts: list[str], test, q_stems: set[str], lang: str) -> int | None:
        """The sentence of ``parts`` giving a figure for something the question names (IDF-weighted, the
        duration words left out) that the no-fixed-figure sentences do not name; None if there is none."""
        idf = self.idf.get(lang, {})
        general = set(analyze(DURATION_WORDS, lang))
        for s in parts:
            if NO_FIXED.search(fold(s)):
                general |= set(analyze(s, lang))
        for i, s in enumerate(parts):
            if test(s) and not ANAPHORA.match(s) and not NO_FIXED.search(fold(s)):
                named = (q_stems & set(analyze(s, lang))) - general
                if sum(idf.get(w, 0.0) for w in named) >= NAMED_EXAMPLE:
                    return i
        return None

    def _misnamed(self, question: str, info: QuestionInfo, lang: str, hits: list[Hit],
                  claim_source: Chunk | None = None):
        """The correction of an article named for another topic, towards the topic the visitor named
        (``claim_source``: the item a claimed duration was checked against, when the same clause names
        the article: "l'article 17 nous donne 15 jours pour répondre")."""
        answering = {h.chunk.article for h in hits[:3] if h.chunk.article}
        claimed = self._claimed_topic_article(question, info, hits, lang)
        if claimed is None and claim_source is not None and self._same_clause(question, info):
            claimed = governing_article(claim_source)
        if claimed in info.articles:
            return None  # the source that best covers what the visitor says is under the article named
        if claimed is not None and answering:
            answering.add(claimed)
        return check_misnamed_article(info, lang, answering, self.titles[lang], claimed or hits[0].chunk.article)

    @staticmethod
    def _same_clause(question: str, info: QuestionInfo) -> bool:
        """True when the first article named and the first duration claimed are in the same clause."""
        named = [n for n in info.articles if 1 <= n <= 99]
        spans = duration_spans(question)
        if not named or not spans:
            return False
        words = fold(spans[0][1])
        return any(words in x and re.search(rf"\b{named[0]}\b", x)
                   for x in CLAUSE_BREAK.split(fold(question)))

    def _duration_elsewhere(self, question: str, info: QuestionInfo, lang: str,
                            hits: list[Hit]) -> tuple[Correction | None, Chunk | None]:
        """A claimed duration ("my partner says we have 15 days to answer") checked against the direct
        answer of the top-5 FAQ item whose own question best covers the clause that states it, when
        that item is not the lead: the lead may be about the visitor's situation, not the claim."""
        if not info.durations:
            return None, None
        spans = duration_spans(question)
        if not spans:
            return None, None
        words = fold(spans[0][1])
        folded = fold(question)
        claim = next((x for x in CLAUSE_BREAK.split(folded) if words in x), "")
        claim = claim.replace(words, " ")  # the claim's topic, not its figure ("jours" is not a topic)
        stems = set(analyze(re.sub(r"\d+", " ", claim), lang)) - set(analyze(CLAIM_WORDS, lang))
        best, best_answer, best_rel, through_phrasing = None, "", CLAIM_DURATION_TOPIC, False
        for h in hits[1:5]:
            c = h.chunk
            if c.kind != "faq" or c.lang != lang or c.group == hits[0].chunk.group:
                continue
            answer = first_paragraph(c.text)
            if not has_duration(answer):
                continue
            # Its own question or any of its other phrasings, with its direct answer: "can we keep the
            # recordings 6 months" is covered by "how long may the images be kept" only through a phrasing
            # such as "maximum time to keep the recordings".
            own = self.relevance(stems, f"{c.title} {answer}", lang)
            rel = max([own] + [self.relevance(stems, f"{text} {answer}", lang)
                               for text in self.questions.get((c.group, c.lang), ())])
            if rel > best_rel:
                best, best_answer, best_rel, through_phrasing = c, answer, rel, own <= CLAIM_DURATION_TOPIC
        if best is None:
            return None, None
        # Matched only through another phrasing, the claim must be read as a deadline or as how long something
        # is kept ("garder les enregistrements 6 mois"), and the source's figure must not be of the other kind.
        found = check_duration(question, info, lang, best_answer, reported=True, same_kind=through_phrasing)
        return (found, best) if found is not None else (None, None)

    def _claimed_topic_article(self, question: str, info: QuestionInfo, hits: list[Hit], lang: str) -> int | None:
        """The article of what the visitor says an article is about ("l'article 30 oblige à faire une AIPD"):
        the governing article of the top source whose own question best covers that sentence, if well covered.

        A misnamed article is then corrected towards the topic the visitor named, not towards whatever
        the lead source happens to be about.
        """
        named = [n for n in info.articles if 1 <= n <= 99]
        if not named:
            return None
        stated = self._stated_subject_article(question, named[0], lang)
        if stated is not None:
            return stated
        # The clause that names the article: "l'article 30 oblige à faire une AIPD pour chaque fichier".
        claim = next((x for x in CLAUSE_BREAK.split(question) if re.search(rf"\b{named[0]}\b", x)), "")
        stems = set(analyze(re.sub(r"\d+", " ", claim), lang)) - set(analyze(CLAIM_WORDS, lang))
        best, best_rel = None, CLAIM_TOPIC
        for h in hits[:5]:
            c = h.chunk
            article = governing_article(c) if c.kind in ("faq", "guide") else None
            if article is None or c.lang != lang:
                continue
            rel = self.relevance(stems, c.title, lang)
            if rel > best_rel:
                best, best_rel = article, rel
        return best

    def _stated_subject_article(self, question: str, named: int, lang: str) -> int | None:
        """The article whose title is the subject the visitor gives the named article ("l'article 17 sur le
        droit d'accès" -> 15, "Article 35 on records of processing" -> 30): the only article whose title
        holds all of that subject's (weighted) words, or nearly all; None when no subject is stated."""
        m = re.search(rf"\b(?:article|art)\.?\s*{named}\b(?:\s+(?:du\s+rgpd|de\s+la\s+loi|of\s+the\s+gdpr|gdpr|rgpd))?"
                      rf"\s*,?\s+(?:qui\s+porte\s+sur|portant\s+sur|relatif\s+aux?|relative\s+aux?|concernant|sur|"
                      rf"about|on|regarding|concerning)\s+([^,;:.?!()\"«»]+)", fold(question))
        if not m:
            return None
        subject = set(analyze(" ".join(m.group(1).split()[:6]), lang)) - set(analyze(CLAIM_WORDS, lang))
        if not subject:
            return None
        scored = sorted(((self.relevance(subject, title, lang), n) for n, title in self.titles[lang].items()),
                        reverse=True)
        if not scored or scored[0][0] < STATED_SUBJECT or (len(scored) > 1 and scored[1][0] >= scored[0][0]):
            return None
        return scored[0][1]

    def _details(self, hit: Hit, q_stems: set[str], lang: str, keep: int = DETAIL_LINES, said: str = "") -> list[str]:
        """The most relevant lines of the lead source's explanation (FAQ detail, guide rules), less the
        sentences the answer already ``said`` (a key fact brought up into the lead is not repeated)."""
        c = hit.chunk
        if c.kind == "faq":
            for heading, body in split_sections(c.text):
                if heading and not heading.lower().startswith("source"):
                    lines = without_repeats([ln.strip() for ln in body.splitlines() if ln.strip()], said)
                    return renumber(self._best_lines(lines, q_stems, lang, keep))
            return []
        if c.kind == "cnil_decision":
            # What the CNIL found: the section listing the breaches (second section of a summary).
            sections = [(h, b) for h, b in split_sections(c.text) if h]
            if len(sections) >= 2:
                lines = [ln.strip() for ln in sections[1][1].splitlines() if ln.strip()]
                return self._best_lines(lines, q_stems, lang, keep)
            return []
        if c.kind == "guide":
            t = HEADINGS[lang]
            sections = [x for x in self.doc_chunks.get(c.doc_id, []) if x.section and x.lang == c.lang]
            from ..retrieval.text import fold

            rules = [x for x in sections if fold(x.section).startswith(t["rules_heading"])]
            pick = rules[0] if rules else None
            if c.section and not fold(c.section).startswith(t["practice_heading"]) and \
                    not c.section.lower().startswith(("source", "articles li", "related")):
                pick = c
            if pick is None:
                return []
            lines = without_repeats([ln.rstrip() for ln in pick.text.splitlines()
                                     if ln.strip() and not ln.startswith("#")], said)
            return renumber(self._best_lines(lines, q_stems, lang, 4))
        return []

    def _provision(self, article: int, lang: str, q_stems: set[str]) -> Chunk | None:
        """The paragraph of an official article (in ``lang``) that best matches the question.

        Relevance is divided by the square root of the paragraph's length, so a long paragraph that
        happens to contain many words does not beat the short one that states the rule.
        """
        paras = [c for c in self.doc_chunks.get(f"gdpr-{lang}-art-{article}", [])]
        if not paras:
            return None

        def score(c: Chunk) -> float:
            return self.relevance(q_stems, c.text, lang) / max(1.0, (len(c.text) / 300) ** 0.5)

        return max(paras, key=lambda c: (score(c), -paras.index(c)))

    def _quote(self, chunk: Chunk, q_stems: set[str], lang: str, limit: int = 360) -> str:
        """Whole sentences (or enumerated points) of a provision: all of it when short, else the most relevant."""
        text = " ".join(chunk.text.split())
        if len(text) <= limit:
            return text
        parts = [p for s_ in sentences(text) for p in ENUMERATION.split(s_) if p.strip()]
        ranked = sorted(range(len(parts)), key=lambda i: (-self.relevance(q_stems, parts[i], lang) - (0.2 if i == 0
                                                          else 0.0), i))
        chosen, size = [], 0
        for i in ranked:
            if size + len(parts[i]) > limit and chosen:
                continue
            chosen.append(i)
            size += len(parts[i])
        chosen.sort()
        out = []
        for j, i in enumerate(chosen):
            if j and i != chosen[j - 1] + 1:
                out.append("(…)")
            out.append(parts[i].strip())
        if chosen[-1] != len(parts) - 1:
            out.append("(…)")
        return " ".join(out)

    def _steps(self, lead: Chunk, lang: str) -> tuple[Chunk | None, list[str]]:
        """The practical steps of the guide on the lead source's article."""
        from ..retrieval.text import fold

        if lead.article is None:
            return None, []
        guide_id = f"guide-art-{lead.article:03d}-{lang}"
        sections = self.doc_chunks.get(guide_id) or self.doc_chunks.get(f"guide-art-{lead.article:03d}-"
                                                                          f"{'en' if lang == 'fr' else 'fr'}", [])
        steps = next((x for x in sections if fold(x.section).startswith(HEADINGS[lang]["practice_heading"])
                      or fold(x.section).startswith(HEADINGS["fr" if lang == "en" else "en"]["practice_heading"])), None)
        if steps is None:
            return None, []
        lines = [ln.rstrip() for ln in steps.text.splitlines() if ln.strip()][:5]
        return steps, renumber(lines)

    # -- the answer ---------------------------------------------------------------------------------
    def compose(self, question: str, info: QuestionInfo, lang: str, hits: list[Hit]) -> Composition:
        """Compose the answer from ranked hits (the first is the lead source)."""
        t = {k: label(lang, k) for k in LABELS} | HEADINGS[lang] | {"colon": " :" if lang == "fr" else ":"}
        used: list[Chunk] = []

        def mark(c: Chunk) -> str:
            for i, u in enumerate(used):
                if u.id == c.id:
                    return f"[{i + 1}]"
            used.append(c)
            return f"[{len(used)}]"

        if not hits:
            return Composition(text=f"_{t['notice']}_", used=())
        q_stems = set(analyze(question, lang))
        hits = self._closest_question_first(question, hits, lang)
        lead_hit = hits[0]
        lead = lead_hit.chunk
        lead_text, yn, qual = self._lead(question, info, lang, lead_hit, q_stems)
        corrections: list[Correction] = []
        duration = check_duration(question, info, lang, lead_text)
        claim_source = None
        if duration is None:
            duration, claim_source = self._duration_elsewhere(question, info, lang, hits)
        for check in (check_articles(info, lang, self.titles[lang]), duration,
                      self._misnamed(question, info, lang, hits, claim_source)):
            if check:
                corrections.append(check)
        if claim_source is not None:
            # The correction comes from another source than the lead: it carries that source's marker.
            i = corrections.index(duration)
            corrections[i] = Correction(f"{duration.text} {mark(claim_source)}", duration.contradicts)
        if corrections and corrections[0].contradicts:
            lead_text = polarity.source_answer(lead_text)[1]  # the correction answers first
            if info.yesno:
                yn = False
        if any(c.text.startswith(("Non", "No:")) for c in corrections):
            yn = None  # the correction already says no
        if lead_text[:1] in "«“":
            yn = None  # the lead answers its own quoted question with its own word: a second word would blur it
        opening = ""
        if yn is not None:
            word = translate(lang, polarity.YES if yn else polarity.NO)
            opening = (f"{qual}, {word.lower()}. " if qual else f"{word}. ")
        note = f" {t['other_lang']}" if lead.lang != lang else ""
        blocks: list[str] = []
        head = " ".join(c.text for c in corrections)
        elsewhere = self._key_fact_elsewhere(info, hits, q_stems, lang, lead_text)
        if elsewhere and not corrections:
            sentence, source = elsewhere
            head = f"{sentence} {mark(source)}"
        basis = governing_article(lead) if lead.kind in ("faq", "guide") else None
        if basis and not CITES_TEXT.search(fold(lead_text)) and \
                not any(re.search(rf"\b{basis}\b", c.text) for c in corrections):
            # A reference of its own at the end of the paragraph: put inside a sentence, it would vouch
            # for that sentence ("a classic time clock is fine (art. 9)"), which the article may not say.
            ref = f"Référence : art. {basis} du RGPD." if lang == "fr" else f"Reference: GDPR Art. {basis}."
            lead_text = f"{lead_text} {ref}"
        first = f"{opening}{lead_text}{note} {mark(lead)}"
        blocks.append(f"{head} {first}".strip() if head else first)

        details = self._details(lead_hit, q_stems, lang, said=blocks[0])
        if details:
            blocks.append("\n".join(details[:-1] + [f"{details[-1]} {mark(lead)}"]))

        second = self._second_source(question, lead_hit, hits, lang, q_stems)
        if second is not None:
            title, text, chunk = second
            blocks.append(f"**{title}**\n{text} {mark(chunk)}")

        # The exact provision: the lead's article, then another top article the ranker trusts.
        provision_articles: list[int] = []
        if lead.article and lead.kind != "cnil_decision":
            provision_articles.append(lead.article)
        for h in hits[1:3]:
            a = h.chunk.article
            if lead.kind != "cnil_decision" and h.chunk.kind == "gdpr_article" and a and \
                    a not in provision_articles and h.score >= 0.5:
                provision_articles.append(a)
        quotes = []
        for a in provision_articles[:2]:
            p = self._provision(a, lang, q_stems)
            if p is None or (lead.kind == "gdpr_article" and p.id == lead.id and len(provision_articles) == 1):
                continue
            if self.relevance(q_stems, p.text, lang) < MIN_PROVISION_RELEVANCE:
                continue  # the article's wording says nothing about what was asked: no quote is better
            heading = p.title.split(" – ", 1)[-1]
            quote = self._quote(p, q_stems, lang)
            quotes.append(f"- {p.ref} ({heading}){t['colon']} « {quote} » {mark(p)}" if lang == "fr"
                          else f"- {p.ref} ({heading}){t['colon']} “{quote}” {mark(p)}")
        if quotes:
            blocks.append(f"**{t['text']}**\n" + "\n".join(quotes))

        if lead.kind == "cnil_decision":
            # Several decisions against the same organisation (Carrefour France and Carrefour Banque):
            # the visitor may mean either, so both are given.
            name = lead.title.split(":")[0].split()[0].lower() if lead.title else ""
            for h in hits[1:3]:
                c = h.chunk
                if c.kind == "cnil_decision" and name and c.title.lower().startswith(name) and \
                        name in question.lower():
                    blocks.append(f"{excerpt(first_paragraph(c.text), 420)} {mark(c)}")
        wants_sanction = asks_about_sanctions(question) or info.type == "amount"
        decision = next((h.chunk for h in hits[:3] if h.chunk.kind == "cnil_decision"), None)
        if decision is not None and decision.id != lead.id and wants_sanction:
            blocks.append(f"**{t['sanction']}**{t['colon']} {excerpt(first_paragraph(decision.text), 420)} "
                          f"{mark(decision)}")

        if lead.kind in ("faq", "guide", "gdpr_article") and (info.type == "steps" or
                                                             lead.kind == "guide" and info.type in ("other", "list")):
            steps_chunk, steps = self._steps(lead, lang)
            if steps and steps_chunk is not None and steps_chunk.lang == lang:
                blocks.append(f"**{t['practice']}**\n" + "\n".join(steps[:-1] + [f"{steps[-1]} {mark(steps_chunk)}"]))

        blocks.append(f"_{t['notice']}_")
        return Composition(text="\n\n".join(blocks), used=tuple(used), yes_no=yn,
                           corrections=tuple(c.text for c in corrections), lead_kind=lead.kind)
