"""The seeded synthetic world of DNS captures that `dnsvigil demo` and the tests ingest."""
