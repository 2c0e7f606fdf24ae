"""``python -m hourglass_plugin.benchmark.worker JOB.json``: one measuring
process of the benchmark (see :func:`.measure.run_worker`)."""
import sys

from .measure import worker_main

if __name__ == '__main__':
    worker_main(sys.argv[1])
