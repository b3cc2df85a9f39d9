import sys

from config.settings import Settings
from eval.bench.run import main
from eval.cli import parser

sys.exit(main(parser("bench").parse_args(), Settings()))
