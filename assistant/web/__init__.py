"""Flask app factory: `create_app(settings)`; services are built once and kept in app.extensions."""

from __future__ import annotations

from flask import Flask, jsonify

from ..config import PROJECT_ROOT, Settings
from ..errors import AssistantError


def create_app(settings: Settings | None = None, answer_service=None) -> Flask:
    """Build the web app over a data dir (the answer service is opened on first use unless given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "web/templates"),
                static_folder=str(PROJECT_ROOT / "web/static"))
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["assistant.settings"] = settings
    if answer_service is not None:
        app.extensions["assistant.answer_service"] = answer_service

    from .api import bp as api_bp

    app.register_blueprint(api_bp)

    @app.errorhandler(AssistantError)
    def _assistant_error(e: AssistantError):
        code = getattr(e, "code", type(e).__name__)
        return jsonify(error={"code": code, "message": e.message}), e.http_status

    @app.errorhandler(413)
    def _too_large(e):
        return jsonify(error={"code": "payload_too_large",
                              "message": f"request body over {app.config['MAX_CONTENT_LENGTH']} bytes"}), 413

    @app.errorhandler(404)
    def _not_found(e):
        return jsonify(error={"code": "not_found", "message": "no such page or endpoint"}), 404

    @app.errorhandler(405)
    def _method(e):
        return jsonify(error={"code": "method_not_allowed", "message": str(e.description)}), 405

    return app
