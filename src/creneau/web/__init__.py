"""The web layer: HTML pages, the JSON API, and what they share (sessions, CSRF, languages, errors).

Public API: :func:`creneau.web.app.create_app`.
"""
