"""How often the candidate search recommends noise: build logs with nothing planted (conversion
independent of every activity: PlantedEffect lift 1) for several seeds, and count the logs on which
marts.candidate_goals recommends any candidate. Issue 21's bar: at most 5% of logs.

    .venv/bin/python benchmarks/false_recommendations.py --seeds 10 --orgs 2000
"""

import argparse
import tempfile
from pathlib import Path

from trial_activation.generator import generate
from trial_activation.generator.draw import PlantedEffect
from trial_activation.project import build, open_context
from trial_activation.testing import copy_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--orgs", type=int, default=2000)
    args = parser.parse_args()
    with_recommendation = 0
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            log = root / "nothing.csv.gz"
            plant = PlantedEffect(activity="Communication.Message.Created", min_events=2, lift=1)
            generate(log, orgs=args.orgs, seed=seed, style="clean", plant=plant)
            context = open_context(copy_project(root / "project"), events_path=log, warehouse_path=root / "w.duckdb")
            build(context, skip_tests=True, skip_linter=True)
            found = context.fetchdf("SELECT COUNT(*) FILTER (WHERE is_recommended) AS n, MAX(distinct_candidates_tested) AS tested FROM marts.candidate_goals")
            context.close()
            n, tested = int(found.n[0]), int(found.tested[0])
            with_recommendation += n > 0
            print(f"seed {seed}: {n} recommended of {tested} distinct candidates tested", flush=True)
    print(f"false recommendations: {with_recommendation} of {args.seeds} logs ({100 * with_recommendation / args.seeds:.0f}%)")


if __name__ == "__main__":
    main()
