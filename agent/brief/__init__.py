"""Episode briefs: a TL;DR, key moments, chapters, the figures table, what is mentioned and the
questions an episode answers, every line cited to its second; and the digest across episodes.

`build_brief(source, settings)` (agent.brief.build) makes one, `get_brief` reads it from the cache
under KB_HOME or builds it; `agent.brief.digest.digest` ranks moments across recent documents.
"""
