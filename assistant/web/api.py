"""JSON API blueprint: /api/chat, /api/chat/stream (SSE), /api/feedback, /api/openapi.json, /api/health."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, jsonify, request, stream_with_context
from sqlalchemy.exc import SQLAlchemyError

from ..chat.exchanges import Diagnostics, without_surrogates
from ..db import new_id
from ..errors import AssistantError, InputError
from . import current_services
from .markdown import answer_html
from .openapi import openapi_document
from .security import check_api_request, cors_headers, limited

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@bp.before_request
def _guard():
    """Origins and page tokens (security.check_api_request); preflights end here."""
    check_api_request()
    if request.method == "OPTIONS":
        return Response(status=204)


bp.after_request(cors_headers)


def _json_body() -> dict:
    if not request.is_json:
        raise InputError("send JSON with Content-Type: application/json", code="unsupported_media_type",
                         http_status=415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InputError('the body must be a JSON object like {"message": "..."}', code="malformed_json")
    return data


def _chat_input(data: dict) -> tuple[str, str | None]:
    if "message" not in data:
        raise InputError("field 'message' is required", code="missing_field", http_status=422)
    if not isinstance(data["message"], str):
        raise InputError("field 'message' must be a string", code="invalid_type", http_status=422)
    cid = data.get("conversation_id")
    if cid is not None and not isinstance(cid, str):
        raise InputError("field 'conversation_id' must be a string", code="invalid_type", http_status=422)
    # A lone surrogate (half an emoji) is not text the model or the database can take: drop it.
    return without_surrogates(data["message"]), cid or None


def _store(question: str, answer: dict, verification: dict | None = None) -> str | None:
    """Record the exchange (redacted); a storage failure never loses the answer itself."""
    try:
        return current_services().exchanges.record(question, answer, Diagnostics.of(question, answer, verification))
    except AssistantError as e:  # ours say what to do (e.g. run `gdpr-assistant db upgrade`) and hold no PII
        log.error("exchange not stored: %s", e.message)
    except SQLAlchemyError as e:
        log.error("exchange not stored: %s", type(e).__name__)  # never the question itself: it may hold PII
    return None


def _with_partners(body: dict, question: str) -> dict:
    """When the answer offers a referral, its ``partners``: the best matches for the question, with why.

    Matching failing (database down, schema behind) never loses the answer: the list stays empty.
    """
    referral = body.get("referral")
    if not referral:
        return body
    referral["dpo_url"] = current_services().matching.dpo_link(question, referral.get("code"))
    try:
        referral["partners"] = current_services().matching.suggest_for_question(question, body.get("language", "fr"))
    except AssistantError as e:
        log.error("no partners suggested: %s", e.message)
    except SQLAlchemyError as e:
        log.error("no partners suggested: %s", type(e).__name__)
    return body


def _with_html(body: dict) -> dict:
    """The answer's ``answer_html``, its markers linking to ``#<cite_prefix><n>`` (unique to this answer)."""
    body["cite_prefix"] = f"cite-{body.get('answer_id') or new_id()[:12]}-"
    body["answer_html"] = answer_html(body, body["cite_prefix"])
    return body


@bp.post("/chat")
@limited("chat_rate_limit", by="ip")
@limited("conversation_rate_limit", by="conversation")
def chat():
    """Answer one message: {message, conversation_id?} -> the answer contract (+ conversation_id, answer_id)."""
    message, cid = _chat_input(_json_body())
    answer = current_services().answers.ask(message, conversation_id=cid, keep=True)
    body = _with_partners(answer.to_dict(), message)
    body["answer_id"] = _store(message, body, answer.verification)
    return jsonify(_with_html(body))


@bp.post("/chat/stream")
@limited("chat_rate_limit", by="ip")
@limited("conversation_rate_limit", by="conversation")
def chat_stream():
    """The same answer as Server-Sent Events: sources, token..., done (or error).

    POST only: a question in a URL would end up in access logs and proxies, with whatever personal
    data the visitor typed.
    """
    message, cid = _chat_input(_json_body())
    service = current_services().answers
    events = service.ask_stream(message, conversation_id=cid, keep=True)
    first = next(events)  # input errors surface here, as a plain JSON error, before the stream starts

    def generate():
        """The events as SSE, the done event stored first and given its answer_html."""
        yield _sse(*first)
        try:
            for name, data in events:
                if name == "done":
                    answer = data  # the engine's done event carries the Answer
                    data = _with_partners(answer.to_dict(), message)
                    data["answer_id"] = _store(message, data, answer.verification)
                    data = _with_html(data)
                yield _sse(name, data)
        except AssistantError as e:
            yield _sse("error", {"code": getattr(e, "code", type(e).__name__), "message": e.message})
        except Exception as e:  # a stream that fails ends with an error event instead of being cut
            log.exception("stream failed")
            yield _sse("error", {"code": "internal_error", "message": f"the answer failed ({type(e).__name__})"})

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.post("/feedback")
def feedback():
    """Thumbs up or down on an answer: {answer_id, rating: "up"|"down", comment?}.

    One vote per answer: the first is ``recorded`` (201), a later one ``replaced`` (200) the earlier
    rating and comment, so a visitor can change their mind but not stack votes.
    """
    data = _json_body()
    fid, replaced = current_services().exchanges.add_feedback(data.get("answer_id"), data.get("rating"),
                                                              data.get("comment"))
    return jsonify(status="replaced" if replaced else "recorded", id=fid), 200 if replaced else 201


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@bp.get("/health")
def health():
    """Liveness and the index generation served."""
    svc = current_services().answers
    return jsonify(status="ok", index=svc.retriever.index.generation, chunks=len(svc.retriever.index.chunks))
