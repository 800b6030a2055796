"""Evaluation of the kb agent on a gold question set: loading gold files and scoring answers."""
