# The README's commands, and a few more for developers.
.PHONY: run test bench

run:            ## install, migrate, demo data, Redis, worker, gunicorn
	scripts/run.sh

test:           ## install what the tests need and run them all
	scripts/test.sh

bench:          ## sync throughput benchmark (prints figures; takes several minutes)
	scripts/bootstrap.sh test && .venv/bin/python -m tests.perf.bench_sync
