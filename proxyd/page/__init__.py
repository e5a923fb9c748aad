"""The browser page at ``/``: providers, models and traffic, served by proxyd itself.

Plain HTML, CSS and JavaScript from :mod:`proxyd.page.assets`, no build step and no external
request. :mod:`~proxyd.page.view` shapes what the page shows (pure), :mod:`~proxyd.page.csrf`
signs its per-page anti-CSRF value (pure), :mod:`~proxyd.page.actions` does what its buttons
ask (the same edits as ``proxyd add/remove/set``, the same probe as ``proxyd check``), and
:mod:`~proxyd.page.handlers` answers its requests.
"""
