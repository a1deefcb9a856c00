"""Jinja2 templates of the generated systemd units (installed as smartcron.unit_templates)."""
