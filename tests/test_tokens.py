"""The one tokenizer (kb/tokens.py): what BM25, sentence scoring and the figures planner compare."""

from __future__ import annotations


def test_tokenize_is_pinned() -> None:
    """The saved BM25 indexes depend on this output: change it only with kb.lexical.FORMAT."""
    from kb.tokens import tokenize

    assert tokenize("The studies' authors were drawing 3 gawatts; Acme's GPUs said 2.5") == [
        "study", "author", "draw", "3", "gigawatt", "acme", "gpu", "2.5"]


def test_content_words_leave_out_extra_words_numbers_and_letters() -> None:
    from kb.tokens import content_words

    assert content_words("The clusters were drawing 4 GW, a figure x", ["figures", "drawing"]) == {"cluster", "gigawatt"}


def test_lexical_index_tokenizes_with_the_same_function() -> None:
    import kb.lexical
    import kb.tokens

    assert kb.lexical.tokenize is kb.tokens.tokenize and kb.lexical.STOPWORDS is kb.tokens.STOPWORDS


def test_figures_context_words_are_the_tokenizer_s() -> None:
    from agent.figures import _words

    assert _words("Each satellite uses 3 kilowatts per dish, by the guest's estimate") == {"satellite", "dish", "estimate"}
