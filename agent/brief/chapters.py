"""Chapters: the episode split where its subject changes (TextTiling over chunk embeddings).

The similarity between the chunks before and after each gap (a window of `WINDOW` chunks on each
side) dips where the subject changes; a gap's depth is how far the similarity falls below the
peaks on either side. The deepest gaps, at least `MIN_BLOCKS` chunks apart, become boundaries.
A document too short for that is one chapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.brief.document import Block

WINDOW = 2
MIN_BLOCKS = 2


def chapter_count(n_blocks: int, duration_s: float) -> int:
    """How many chapters: about one per 8 minutes (or 4 chunks untimed), 3-8, fewer for short documents."""
    if n_blocks < 2 * MIN_BLOCKS:
        return 1
    want = round(duration_s / 480) if duration_s > 0 else round(n_blocks / 4)
    return max(1, min(max(3, want), 8, n_blocks // MIN_BLOCKS))


def gap_similarity(vectors: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Cosine similarity between the windows left and right of each gap between blocks."""
    sims = []
    for g in range(1, len(vectors)):
        left = vectors[max(0, g - window):g].mean(axis=0)
        right = vectors[g:g + window].mean(axis=0)
        sims.append(float(left @ right / ((np.linalg.norm(left) * np.linalg.norm(right)) or 1.0)))
    return np.asarray(sims)


def depth_scores(sims: np.ndarray) -> np.ndarray:
    """TextTiling depth: (highest similarity to the left - here) + (highest to the right - here)."""
    depth = np.zeros_like(sims)
    for i, s in enumerate(sims):
        left = max(sims[: i + 1])
        right = max(sims[i:])
        depth[i] = (left - s) + (right - s)
    return depth


def boundaries(blocks: Sequence[Block], n_chapters: int) -> list[int]:
    """Indices of the blocks that start a chapter (always 0 first)."""
    if n_chapters <= 1 or len(blocks) < 2 * MIN_BLOCKS:
        return [0]
    vectors = np.asarray([b.embedding for b in blocks], dtype=np.float32)
    depth = depth_scores(gap_similarity(vectors))
    starts = [0]
    spacing = max(MIN_BLOCKS, len(blocks) // (2 * n_chapters))  # no chapter under half the average length
    for g in sorted(range(len(depth)), key=lambda g: (-depth[g], g)):
        start = g + 1  # gap g lies between block g and g+1
        if start < spacing or len(blocks) - start < spacing:
            continue
        if all(abs(start - s) >= spacing for s in starts):
            starts.append(start)
        if len(starts) >= n_chapters:
            break
    return sorted(starts)


def sentence_ranges(blocks: Sequence[Block], starts: Sequence[int], n_sentences: int) -> list[tuple[int, int]]:
    """(first, last) sentence index of each chapter; a chapter starts at its first block's first
    sentence that the previous block does not already hold."""
    firsts = [0] + [blocks[s - 1].last + 1 if s > 0 else 0 for s in starts[1:]]
    firsts = [min(f, n_sentences - 1) for f in firsts]
    out = []
    for n, f in enumerate(firsts):
        last = firsts[n + 1] - 1 if n + 1 < len(firsts) else n_sentences - 1
        if last >= f:
            out.append((f, last))
    return out or [(0, n_sentences - 1)]
