"""Rendering: the pages and texts people read (risk lists, account pages, the impact page), one Jinja2 environment.

Pure functions from already loaded frames and results to text or HTML; the steps
read the warehouse and write the files.
"""
