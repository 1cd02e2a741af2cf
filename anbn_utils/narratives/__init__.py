"""The Narratives fMRI dataset (Nastase et al. 2021): layout, BOLD, transcripts, download."""

from .bold import (
    StoryWindow,
    cache_task_bold,
    common_mask,
    load_mask,
    load_masked_bold,
    mean_and_tsnr,
    read_story_window,
)
from .dataset import Story, load_story, prepare_story, save_story, surrogate_bold
from .download import download, needed_files
from .layout import (
    TASKS,
    TR,
    dataset_name,
    find_scans,
    is_excluded,
    read_scan_exclude,
    select_scans,
)
from .transcripts import assign_words_to_trs, read_align_csv, read_align_json, read_words

__all__ = [
    "TASKS",
    "TR",
    "Story",
    "StoryWindow",
    "assign_words_to_trs",
    "cache_task_bold",
    "common_mask",
    "dataset_name",
    "download",
    "find_scans",
    "is_excluded",
    "load_mask",
    "load_masked_bold",
    "load_story",
    "mean_and_tsnr",
    "needed_files",
    "prepare_story",
    "read_align_csv",
    "read_align_json",
    "read_scan_exclude",
    "read_story_window",
    "read_words",
    "save_story",
    "select_scans",
    "surrogate_bold",
]
