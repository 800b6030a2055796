"""The deterministic "figures" planner of the offline backend: question -> one calculate() expression.

No language model is involved. `plan(question, passages)` reads quantities with units out of
the question and the retrieved passages ("$700 per tonne", "a quarter million servers",
"400k tokens", "a fifth"), works out which unit the question asks for ("how many terawatts"
-> GW, "what does one GPU cost" -> USD/GPU, "in percent" -> %), and then combines at most a
few facts by dimensional analysis into ONE expression for `agent.calculator.calculate`.

How facts are read:
- a quantity is a number (digits, `400k`, `half a million`, `a billion`, `seven`) followed,
  after a space or a hyphen ("a 40-kW rack"), by
  a unit word (`GW`, `terawatts`, misheard spellings from the lexicon, `ms`, `GPUs`,
  `people`, `%`), or `$` before a number; digits inside a name ("V3", "GPT-4") are no figure;
- a rate is `X per Y` / `X/Y` / `X a Y`, `a Y is|costs ... X` ("a rack is forty
  servers" -> server/rack) or `a <quantity> <count noun>` ("a 2 kW GPU" -> kW/GPU);
- a range ("a litre to 2 litres") counts as its low end; a false start corrected in
  speech ("two million T three million GPUs") yields only the corrected value;
- fractions ("a fifth"), percentages and multipliers ("10x") are plain numbers, used only by
  the fraction, part-of-a-whole and growth patterns.

How a plan is chosen, first match wins:
1. growth: "tripling every year for 3 years" -> 3**3 (the growth word may come from a passage
   when the question asks "by what factor did it grow ... for three years");
2. shares with numbers in the question: "what fraction of 80 GW is 6 GW" -> 6 GW / 80 GW in %;
   "if 100 GW is a fifth of the grid, how big is the grid" -> 100 GW / 0.2; "80% of 30 GW";
3. shares and ratios named in words: "A as a percentage of B", "what percentage of B would A
   make up", "how many times larger is A than B", "how many times more hours went into A than
   into B" -> each side is a number of the question or the passage figure whose context best
   matches the phrase; a side its words match no figure for ("…than the smaller one") is the
   other figure of the same dimensions in the sentence of the side that is named;
4. a share named in words and applied to the question's one quantity ("the author's expected export
   share applied to 12 MW") -> the passage percentage or fraction whose sentence holds a word of the
   words naming the share ("expected export") × 12 MW;
5. otherwise a search over products/quotients of up to three facts, no two of one kind, whose
   dimensions equal the target's; a percentage the question applies ("minus 10%") multiplies
   the result. Preferred: every number of the question used, then the rates the question
   names ("at the speaker's servers per rack"), rates over bare passage figures, fewer passage
   facts, fewer facts, fewer divisions, passage facts whose context shares rare words with
   the question, earlier passages. A passage figure quoted as it stands is a lookup, not a plan.

`needs_figures(question)` tells computation questions from lookups; `extract_facts(text)`
exposes the reader. Importing this package is cheap: pint is loaded (once) only when `plan`
needs dimensions.

The modules, in the order a plan uses them: `facts` (reading quantities), `candidates` (the
figures a plan may use), `search` (the unit asked for, the dimensional search, `Plan`),
`patterns` (plans read from the wording), `planner` (`plan`), and `cues` (`needs_figures`).
"""

from __future__ import annotations

from agent.figures.cues import needs_figures
from agent.figures.facts import Fact, extract_facts
from agent.figures.planner import plan
from agent.figures.search import Plan

__all__ = ["Fact", "Plan", "extract_facts", "needs_figures", "plan"]
