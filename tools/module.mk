# tools/: the pvio toolstack CLI.
BINS += tools/pvio
