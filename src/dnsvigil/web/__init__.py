"""The web app: a JSON API (and, next, dashboard pages) over the warehouse, with access control.

`app.create_app` builds it; `dnsvigil serve` runs it under uvicorn.
"""
