"""The dashboard: server-rendered pages in the six UN languages, one router per page group."""

from dnsvigil.web.pages import abuse, dga, findings, login, search, traffic

ROUTERS = tuple(module.router for module in (traffic, findings, dga, abuse, search, login))
