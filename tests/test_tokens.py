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

    assert kb.lexical.tokenize is kb.tokens.tokenize


def test_figures_context_words_are_the_tokenizer_s() -> None:
    from agent.figures.candidates import _words

    assert _words("Each satellite uses 3 kilowatts per dish, by the guest's estimate") == {"satellite", "dish", "estimate"}


def test_a_users_lexicon_reaches_the_tokenizer_and_the_index_key(tmp_path, monkeypatch) -> None:
    """KB_LEXICON_FILE's misheard words are aliases for BM25 too, and a saved index built with
    another lexicon is not current (its folder key carries the aliases' hash)."""
    import json

    import kb.tokens

    extra = tmp_path / "lexicon.json"
    extra.write_text(json.dumps({"misheard": {"kilowot": "kilowatt"}}))
    before = kb.tokens.vocabulary_key()
    monkeypatch.setattr(kb.tokens, "_ALIASES", None)
    monkeypatch.setattr(kb.tokens, "_STEMS", {})
    monkeypatch.setenv("KB_LEXICON_FILE", str(extra))
    assert kb.tokens.tokenize("each kilowot drawn") == kb.tokens.tokenize("each kilowatt drawn")
    assert kb.tokens.vocabulary_key() != before


def test_british_spellings_meet_american_ones() -> None:
    from kb.tokens import tokenize

    for british, american_ in [("flavours", "flavors"), ("harbour", "harbor"), ("realised", "realized"),
                               ("standardisation", "standardization"), ("theatre", "theater"), ("sabres", "sabers")]:
        assert tokenize(british) == tokenize(american_), british


def test_words_that_only_look_british_keep_their_spelling() -> None:
    from kb.tokens import tokenize

    assert tokenize("hour four tours detour raise noise otherwise precise promise exercise genre") == [
        "hour", "four", "tour", "detour", "raise", "noise", "otherwise", "precise", "promise", "exercise", "genre"]


def test_a_plural_of_a_word_in_ing_meets_its_singular() -> None:
    from kb.tokens import tokenize

    for singular in ("meeting", "building", "painting", "finding", "setting"):
        assert tokenize(singular + "s") == tokenize(singular), singular


def test_an_ing_or_ed_form_meets_its_base_word() -> None:
    """Porter's step-1b repairs: the "e" cut with "-ing"/"-ed" put back, a doubled consonant undone."""
    from kb.tokens import tokenize

    for form, base in (("baking", "bake"), ("glazed", "glaze"), ("stopping", "stop"), ("wired", "wire"),
                       ("tuning", "tune"), ("troubled", "trouble"), ("rotated", "rotate"), ("fixing", "fix")):
        assert tokenize(form) == tokenize(base), form
    assert tokenize("hopping") != tokenize("hoping")  # hop and hope stay apart
    for form, base in (("heated", "heat"), ("eating", "eat"), ("added", "add"), ("updated", "update")):
        assert tokenize(form) == tokenize(base), form  # no "e" where the base has none; "add" keeps its "dd"
    for kept in ("speed", "succeed", "feed"):  # "-eed" is no "-ed" to cut
        assert tokenize(kept) == [kept]
    assert tokenize("raining falling thinking") == ["rain", "fall", "think"]
