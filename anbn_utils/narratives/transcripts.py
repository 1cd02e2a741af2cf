"""Gentle word alignments: read, fill in missing times, place words on the TR grid.

Gentle (``stimuli/gentle/<task>/align.json``) lists every transcript token with its
character offsets in the transcript; tokens it could not find in the audio
(``case == 'not-found-in-audio'``) have no time.  Every token is kept: missing times
are linearly interpolated between aligned neighbours (by token index), so the word
count stays the dataset's (Pie Man 957, Shapes-social 910).  Times are in audio-file
time and are shifted by the audio-to-scan offset (the onset of the first
``events.tsv`` row: 0 s for Pie Man, 4.5 s for Shapes).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .layout import TR, gentle_dir

__all__ = ["assign_words_to_trs", "read_align_csv", "read_align_json", "read_words"]

WORD_COLUMNS = ["word", "case", "aligned_word", "start", "end", "start_offset", "end_offset",
                "punct", "interpolated"]


def read_align_json(path: str | os.PathLike) -> tuple[pd.DataFrame, str]:
    """Read a Gentle ``align.json``.

    Returns
    -------
    words : DataFrame
        One row per token in transcript order, columns :data:`WORD_COLUMNS`:
        ``start``/``end`` in audio seconds (interpolated where ``interpolated``),
        ``start_offset``/``end_offset`` character offsets into the transcript,
        ``punct`` the non-space characters between this token and the next (the
        punctuation Gentle leaves out, restored from the transcript).
    transcript : str
        The full text Gentle aligned.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing; fetch the Gentle alignment of this story.")
    try:
        doc = json.loads(_utf8(path))
        transcript = doc["transcript"]
        entries = doc["words"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not a Gentle align.json ({e!r}); re-fetch it.") from e
    rows = []
    for w in entries:
        if w.get("case") == "not-found-in-transcript":
            continue  # disfluency entries have no place in the transcript
        ok = w.get("case") == "success"
        rows.append({
            "word": w["word"],
            "case": w["case"],
            "aligned_word": w.get("alignedWord") if ok else None,
            "start": float(w["start"]) if ok else np.nan,
            "end": float(w["end"]) if ok else np.nan,
            "start_offset": int(w["startOffset"]),
            "end_offset": int(w["endOffset"]),
        })
    words = pd.DataFrame(rows, columns=WORD_COLUMNS[:-2])
    words["punct"] = _punctuation(transcript, words)
    return _interpolate(words, path), transcript


def _utf8(path: Path) -> str:
    """A Gentle alignment's text (UTF-8, as Gentle writes it); another encoding is named
    with the file and the fix."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset "
                        f"{e.start}), as Gentle writes its alignments: re-fetch it, or convert "
                        f"it (e.g. `iconv -f latin1 -t utf-8`)") from None


def read_align_csv(path: str | os.PathLike) -> tuple[pd.DataFrame, str]:
    """Read a Gentle ``align.csv`` (no header: word, alignedWord, start, end).

    The CSV has no character offsets or punctuation: the transcript is rebuilt as the
    words joined by single spaces and the offsets point into that text.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing; fetch the Gentle alignment of this story.")
    rows, pos, parts = [], 0, []
    with io.StringIO(_utf8(path), newline="") as f:
        for rec in csv.reader(f):
            if not rec:
                continue
            if len(rec) != 4:
                raise DataError(f"{path}: row {rec!r} does not have 4 columns (word,aligned,start,end)")
            word, aligned, start, end = rec
            ok = start != ""
            rows.append({
                "word": word,
                "case": "success" if ok else "not-found-in-audio",
                "aligned_word": aligned or None,
                "start": float(start) if ok else np.nan,
                "end": float(end) if ok else np.nan,
                "start_offset": pos,
                "end_offset": pos + len(word),
                "punct": "",
            })
            parts.append(word)
            pos += len(word) + 1
    words = pd.DataFrame(rows, columns=WORD_COLUMNS[:-1])
    return _interpolate(words, path), " ".join(parts)


def _punctuation(transcript: str, words: pd.DataFrame) -> list[str]:
    ends = words["end_offset"].to_numpy()
    nexts = np.append(words["start_offset"].to_numpy()[1:], len(transcript))
    return ["".join(transcript[a:b].split()) for a, b in zip(ends, nexts)]


def _interpolate(words: pd.DataFrame, path: Path) -> pd.DataFrame:
    aligned = words["case"].eq("success").to_numpy()
    if not aligned.any():
        raise DataError(
            f"{path} has no aligned word (every token is 'not-found-in-audio'); the alignment "
            "failed. Re-run Gentle or fetch the dataset's alignment."
        )
    idx = np.arange(len(words))
    for col in ("start", "end"):
        vals = words[col].to_numpy(dtype=float)
        words[col] = np.interp(idx, idx[aligned], vals[aligned])
    words["interpolated"] = ~aligned
    return words


def read_words(
    root: str | os.PathLike,
    task: str,
    *,
    audio_offset: float = 0.0,
    source: str = "json",
) -> tuple[pd.DataFrame, str]:
    """Words of a story with times in scan seconds.

    Parameters
    ----------
    root : path
        Dataset root.
    task : str
        Story (task) name.
    audio_offset : float
        Seconds added to Gentle's audio times (scan time at which the audio started).
    source : {'json', 'csv'}
        Read ``align.json`` (offsets and punctuation) or ``align.csv``.

    Returns
    -------
    words : DataFrame
        As :func:`read_align_json`, with ``start``/``end`` in scan time.
    transcript : str
    """
    folder = gentle_dir(Path(root), task)
    if source == "json":
        words, transcript = read_align_json(folder / "align.json")
    elif source == "csv":
        words, transcript = read_align_csv(folder / "align.csv")
    else:
        raise DataError(f"source must be 'json' or 'csv', not {source!r}")
    words["start"] += audio_offset
    words["end"] += audio_offset
    return words, transcript


def assign_words_to_trs(
    words: pd.DataFrame,
    start: int,
    stop: int,
    *,
    tr: float = TR,
    anchor: str = "end",
    outside: str = "clip",
) -> pd.DataFrame:
    """Put each word on the cropped TR grid.

    Volume ``v`` covers scan time ``[v * tr, (v + 1) * tr)``; a word belongs to the
    volume that contains its ``anchor`` time.  The returned ``tr`` column counts from
    the first kept volume (``start``), matching rows of the cropped BOLD.

    Parameters
    ----------
    words : DataFrame
        With ``start`` and ``end`` in scan seconds.
    start, stop : int
        Kept volumes ``[start, stop)``.
    tr : float
        Repetition time in seconds.
    anchor : {'end', 'start', 'mid'}
        Which time of the word decides its volume (``'end'``, as bert-brains: a word
        is known once it has been heard).
    outside : {'clip', 'error'}
        Words that fall before ``start`` or after ``stop`` (e.g. the first words of
        Shapes, spoken just before the story event's onset): ``'clip'`` assigns them to
        the first/last kept TR and flags them in ``clipped``; ``'error'`` raises.

    Returns
    -------
    DataFrame
        ``words`` plus ``volume`` (absolute), ``tr`` (relative) and ``clipped``.
    """
    times = {"end": words["end"], "start": words["start"],
             "mid": (words["start"] + words["end"]) / 2}
    if anchor not in times:
        raise DataError(f"anchor must be one of {sorted(times)}, not {anchor!r}")
    if outside not in ("clip", "error"):
        raise DataError(f"outside must be 'clip' or 'error', not {outside!r}")
    volume = np.floor(times[anchor].to_numpy() / tr + 1e-9).astype(int)
    clipped = (volume < start) | (volume >= stop)
    if clipped.any() and outside == "error":
        bad = words.loc[clipped, "word"].tolist()
        raise DataError(
            f"{clipped.sum()} word(s) fall outside volumes [{start}, {stop}): {bad[:5]}... "
            "Check the audio offset, or use outside='clip'."
        )
    out = words.copy()
    out["volume"] = volume
    out["tr"] = np.clip(volume, start, stop - 1) - start
    out["clipped"] = clipped
    return out
