# tools/: the pvio toolstack CLI.
BINS += tools/pvio
# The toolstack library (libxl's role), used by the CLI, the demo and tests.
LIB_SRCS += tools/toolstack.c tools/xlcfg.c
# The guest-side disk tool (run with `pvio run --domain NAME -- pvio-blkio ...`).
BINS += tools/pvio-blkio
# The guest-side TAP bridge (run with `pvio run --domain NAME -- pvio-netfront-tap ...`).
BINS += tools/pvio-netfront-tap
BINS += tools/pvio-netio
# pvio's commands in their own files: create from an xl config, top.
SRCS_pvio := tools/xlcreate.c tools/top.c
