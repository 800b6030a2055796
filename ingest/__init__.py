"""Ingestion: load files (transcripts, subtitles, plain text), chunk them, write them to the store."""
