# evtchn/: event channels (shared flags page + eventfd per end).
LIB_SRCS += evtchn/evtchn.c evtchn/pollwin.c
