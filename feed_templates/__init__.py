"""The jinja2 templates of the pages and the HTML stats report, shipped as package data.

This folder is installed as ``podcast.feed_templates`` (see setup.cfg); ``podcast.site``
reads the templates through importlib.resources.
"""
