"""06_layers: the pair explorer, static HTML (one script, the run's numbers as JSON beside
it, each BN's map as nilearn's offline viewer).

:func:`explorer_html` lays out what :func:`anbn_utils.explorer.explorer_data` gathered: a
story, an AN and a BN to pick (picking one selects its best partner unless the reader
unticks that), the pair's PCC and both z-scored time courses, the AN's place in its layer
and its top query-key pairs with their tags, the BN's label, peak and map, and the
p-values of the AN, the BN and the pair under each null model and correction.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib.resources import files
from typing import Any

__all__ = ["explorer_html", "shared_chunks"]

_STYLE = """
#{id} {{font-size: 0.9em; border: 1px solid #ccc; padding: 0.6em; max-width: 100%;}}
#{id} .anbn-controls {{display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center;}}
#{id} select {{max-width: min(100%, 32em);}}
#{id} [data-role=chart-box] svg {{width: 100%; height: auto; display: block;}}
#{id} .anbn-legend span {{display: inline-block; width: 1.6em; height: 0.25em;
  vertical-align: middle; margin: 0 0.3em 0 0.8em;}}
#{id} .anbn-columns {{display: flex; flex-wrap: wrap; gap: 1em;}}
#{id} .anbn-columns > div {{flex: 1 1 22em; min-width: 0;}}
#{id} table {{border-collapse: collapse; margin: 0.4em 0;}}
#{id} td, #{id} th {{padding: 0.1em 0.6em; border-bottom: 1px solid #eee; text-align: left;}}
#{id} .anbn-scroll {{overflow-x: auto; max-width: 100%;}}
#{id} iframe {{width: 100%; height: 300px; border: 0;}}
"""


#: Where the viewers' documents are cut into the pieces :func:`shared_chunks` stores once:
#: scripts and inlined images.
_CHUNK = re.compile(r"(<script[^>]*>.*?</script>|data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+)",
                    re.DOTALL)


def shared_chunks(documents: list[str]) -> tuple[list[str], list[list[int]]]:
    """Documents as pieces stored once: ``(chunks, docs)`` with ``documents[i] ==
    "".join(chunks[j] for j in docs[i])``.

    The viewers of the BN maps repeat their scripts and the template's image; stored once,
    a page of many maps keeps the size of one viewer plus each map's own image.
    """
    chunks: dict[str, int] = {}
    docs = [[chunks.setdefault(part, len(chunks)) for part in _CHUNK.split(doc) if part]
            for doc in documents]
    return list(chunks), docs


def explorer_html(data: dict[str, Any], maps_img, *, map_height: int = 280) -> str:
    """The explorer as one HTML fragment (a ``div`` with its style, data and script).

    Parameters
    ----------
    data : dict
        :func:`anbn_utils.explorer.explorer_data`'s output.
    maps_img : Nifti1Image, 4D
        The BN maps as displayed (one volume per BN, in ``data['bns']`` order), each shown
        in nilearn's ``view_img`` (offline: its scripts and images are inlined) on the
        MNI152 template resampled to the maps' own grid (no detail the maps lack; the page
        stays small), the viewers' common pieces stored once (:func:`shared_chunks`).
    map_height : int
        Pixels of the map viewer.

    Returns
    -------
    str
        The fragment; its element id is derived from the data (not the maps' viewers,
        whose own ids are random), so two explorers on one page do not collide and the
        same run gives the same id.
    """
    from nilearn.datasets import load_mni152_template
    from nilearn.image import index_img, resample_to_img
    from nilearn.plotting import view_img

    background = resample_to_img(load_mni152_template(resolution=1), index_img(maps_img, 0),
                                 force_resample=True, copy_header=True)
    views = []
    for k, bn in enumerate(data["bns"]):
        view = view_img(index_img(maps_img, k), bg_img=background, cmap="inferno",
                        symmetric_cmap=False, title=bn["name"], threshold=1e-6, black_bg=False)
        view.resize(760, map_height)
        views.append(view.get_standalone())
    chunks, docs = shared_chunks(views)
    numbers = json.dumps(data, separators=(",", ":"), allow_nan=False)
    element = "anbn-explorer-" + hashlib.sha1(numbers.encode()).hexdigest()[:10]
    payload = json.dumps({**data, "map_chunks": chunks, "map_docs": docs},
                         separators=(",", ":"), allow_nan=False)
    safe = payload.replace("</", "<\\/")  # no "</script>" inside the script
    script = files("anbn_utils.plotting").joinpath("explorer.js").read_text(encoding="utf-8")
    return f"""<div id="{element}" class="anbn-explorer">
<style>{_STYLE.format(id=element)}</style>
<div class="anbn-controls">
<label>story <select data-role="story"></select></label>
<label>AN <select data-role="an"></select></label>
<label>BN <select data-role="bn"></select></label>
<label><input type="checkbox" data-role="follow" checked> picking one picks its best
partner</label>
</div>
<p data-role="head"></p>
<div class="anbn-legend"><span style="background:#c0392b"></span>AN
<span style="background:#1f5fbf"></span>BN (both z-scored, as coupled; time from the
story's first kept TR)</div>
<div data-role="chart-box"></div>
<div class="anbn-columns">
<div><b>The AN</b><div class="anbn-scroll" data-role="an-info"></div></div>
<div><b>The BN</b><div class="anbn-scroll" data-role="bn-info"></div>
<iframe data-role="map" title="the BN's map" style="height:{map_height + 20}px"></iframe></div>
</div>
<b>p-values</b> (the AN's and the BN's: of their best pair, chapter 04's tests; the pair's:
family-wise over all AN x BN pairs)
<div class="anbn-scroll" data-role="p-values"></div>
<script type="application/json">{safe}</script>
<script>{script}</script>
</div>"""
