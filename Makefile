# The README's commands, and a few more for developers.
.PHONY: run test fast check lock bench faults

run:            ## install, migrate, demo data, Redis, worker, gunicorn
	scripts/run.sh

test:           ## install what the tests need and run them all
	scripts/test.sh

fast:           ## SQLite only, no slow tests: the loop while developing
	scripts/test.sh --fast

check:          ## what CI checks before the tests: lint and types
	scripts/bootstrap.sh test && .venv/bin/ruff check . && .venv/bin/mypy dashboard

lock:           ## refresh requirements*.lock after a dependency change in pyproject.toml
	scripts/lock.sh

bench:          ## the benchmarks (print figures; take a long while)
	scripts/bootstrap.sh test
	.venv/bin/python -m tests.perf.bench_sync
	.venv/bin/python -m tests.perf.bench_dashboard
	.venv/bin/python -m tests.perf.bench_fleet

faults:         ## the full fault-injection run, with its figures (CI runs a reduced version)
	scripts/bootstrap.sh test && .venv/bin/python -m tests.perf.faults_full
