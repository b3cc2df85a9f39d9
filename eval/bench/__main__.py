import sys

from eval.bench.run import main, parser

sys.exit(main(parser().parse_args()))
