"""agent: the question-answering agent over the knowledge base."""
