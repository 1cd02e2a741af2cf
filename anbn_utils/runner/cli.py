"""The command line of the runner: ``python -m anbn_utils.run``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError, ParameterError, RunError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from .execute import check, run
    from .state import prune_store

    parser = argparse.ArgumentParser(
        prog="python -m anbn_utils.run", description="Run the anbn notebooks for a profile.")
    parser.add_argument("--profile", default="phantom",
                        help="shipped profile name or YAML path (default: phantom)")
    parser.add_argument("--run-dir", default=None, help="default: runs/<profile>")
    parser.add_argument("--stage", action="append", dest="stages", default=None,
                        help="run only this stage and what it needs (repeatable)")
    parser.add_argument("--force", action="append", default=[],
                        help="re-run this stage even if up to date (repeatable; 'dataset' too)")
    parser.add_argument("--set", action="append", dest="overrides", default=[],
                        metavar="NAME=VALUE",
                        help="change a parameter of the profile (YAML value; 'dataset.NAME' for "
                             "the generated dataset's); repeatable")
    parser.add_argument("--check", action="store_true",
                        help="only check that everything the run needs is there (seconds; "
                             "every run does this first)")
    parser.add_argument("--store", default=None, metavar="PATH",
                        help="folder of stages shared between runs (default: .store beside "
                             "the run directory)")
    parser.add_argument("--no-store", action="store_true",
                        help="compute every stage in the run directory itself")
    parser.add_argument("--prune-store", action="store_true",
                        help="after the run, remove the shared stages no run links to")
    parser.add_argument("--verify", action="store_true",
                        help="before reusing a stage or the generated dataset, compare its "
                             "files' content with the digests recorded when it was written "
                             "(reads every file)")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not copy executed notebooks into book/executed")
    parser.add_argument("--headless", action="store_true",
                        help="compute each stage that has a package function with it alone: "
                             "the same files, no notebook and no figures (faster; with "
                             "--no-publish, for runs that are read, not shown)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems, notes = check(args.profile, stages=args.stages, overrides=args.overrides)
            for note in notes:
                print(f"ok: {note}")
            if problems:
                raise RunError("\n".join(f"problem {i}: {p}" for i, p in enumerate(problems, 1)))
            print(f"ok: profile {args.profile} is ready to run")
            return 0
        run_dir = run(args.profile, run_dir=args.run_dir, stages=args.stages, force=args.force,
                      publish=not args.no_publish, progress=not args.no_progress,
                      overrides=args.overrides,
                      store=False if args.no_store else (args.store or True),
                      verify=args.verify, headless=args.headless)
        if args.prune_store:
            store = Path(args.store) if args.store else run_dir.parent / ".store"
            removed = prune_store(store)
            print(f"pruned {len(removed)} unused stage(s) from {store}")
    except (ParameterError, DataError) as e:
        parser.exit(2, f"error: {e}\n")
    except RunError as e:
        parser.exit(1, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
