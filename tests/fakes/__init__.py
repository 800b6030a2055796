"""Local test fakes: an OpenAI Chat Completions server and a Slack Web API, both on 127.0.0.1."""
