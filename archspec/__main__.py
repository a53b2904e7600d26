"""`python -m archspec` (and `torchrun -m archspec`) runs the command line."""
from archspec.cli.main import main

main()
