"""kb: the knowledge base — settings, types, embeddings, the Chroma store and hybrid retrieval."""

__version__ = "0.1.0"
