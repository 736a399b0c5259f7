"""The web dashboard of ``qclone serve``, under ``/ui`` (same process, same port as the API).

Server-rendered Jinja2 templates (``templates/``), a small stylesheet and script of our own
(``static/``, no build chain, no third-party JavaScript), every page a thin layer over the
service calls the JSON API makes (:mod:`qclone.storage.web.app`), every page also as JSON with
``?format=json``. Sign-in with a tenant or admin token keeps it in an encrypted HttpOnly,
SameSite=Strict cookie (:mod:`qclone.storage.web.session`); every form carries a CSRF token.

Modules: :mod:`.app` (the routes and :func:`mount_dashboard`), :mod:`.session` (cookies, CSRF,
sign-out), :mod:`.forms` (the store form into the storage input parser), :mod:`.svg` (the
placement picture and Bloch spheres), :mod:`.fidelity` (the fidelity a get would return now,
from the memory-noise model), :mod:`.explorer` (the protocol explorer and durability pages).

Templates: ``base.html`` defines the blocks ``title`` and ``content``; a page template
``{% extends "base.html" %}``. Every template is rendered with the base context (a context
processor of :func:`~qclone.storage.web.app.make_templates`, so a router that renders with
the ``templates`` object it is given gets it too):

* ``request``: the request (a route passes it);
* ``nav``: the navigation, ``[{"href", "label", "active"}]``;
* ``user``: who is signed in (a tenant's name, or ``"admin"``; None on the sign-in page);
* ``admin``: whether the session holds the admin token;
* ``csrf_token``: the session's CSRF token; a POST form must send it as the field ``csrf_token``.

A router included by :func:`mount_dashboard` (``explorer.make_router(templates)``) is mounted
under ``/ui`` behind the sign-in: its routes run only for a signed-in user.
"""

from qclone.storage.web.app import mount_dashboard

__all__ = ["mount_dashboard"]
