"""JSON API blueprint: validates input and calls the answer service; holds no logic."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, jsonify, request

from ..errors import InputError

bp = Blueprint("api", __name__, url_prefix="/api")
_lock = threading.Lock()


def answer_service():
    """The process-wide answer service (opened once, on first use)."""
    ext = current_app.extensions
    svc = ext.get("assistant.answer_service")
    if svc is None:
        with _lock:
            svc = ext.get("assistant.answer_service")
            if svc is None:
                from ..runtime import open_answer_service

                svc = open_answer_service(ext["assistant.settings"])
                ext["assistant.answer_service"] = svc
    return svc


@bp.post("/chat")
def chat():
    """Answer one message: {message, conversation_id?} -> the answer contract."""
    if not request.is_json:
        raise InputError("send JSON with Content-Type: application/json", code="unsupported_media_type",
                         http_status=415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object like {\"message\": \"...\"}", code="malformed_json")
    if "message" not in data:
        raise InputError("field 'message' is required", code="missing_field", http_status=422)
    if not isinstance(data["message"], str):
        raise InputError("field 'message' must be a string", code="invalid_type", http_status=422)
    answer = answer_service().ask(data["message"])
    return jsonify(answer.to_dict())


@bp.get("/health")
def health():
    """Liveness and the index generation served."""
    svc = answer_service()
    return jsonify(status="ok", index=svc.retriever.index.generation)
