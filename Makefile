# The README's commands, and a few more for developers.
.PHONY: run test bench faults

run:            ## install, migrate, demo data, Redis, worker, gunicorn
	scripts/run.sh

test:           ## install what the tests need and run them all
	scripts/test.sh

bench:          ## the benchmarks (print figures; take a long while)
	scripts/bootstrap.sh test
	.venv/bin/python -m tests.perf.bench_sync
	.venv/bin/python -m tests.perf.bench_dashboard
	.venv/bin/python -m tests.perf.bench_fleet

faults:         ## the full fault-injection run, with its figures (CI runs a reduced version)
	scripts/bootstrap.sh test && .venv/bin/python -m tests.perf.faults_full
