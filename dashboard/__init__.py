"""The staff dashboard (Flask). Installed as `smartcron.dashboard`.

Not built yet: the pages, login and API arrive with the dashboard issue. This package exists so
that the layout and packaging (installed inside `smartcron`, never as a top-level `dashboard`)
are fixed and tested from the start.
"""
