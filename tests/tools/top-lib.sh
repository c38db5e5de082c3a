# pvio top helpers for the tests (sourced after a lib.sh that sets PVIO).
#   top_wait COND [N]  run `pvio top --json` (up to N refreshes, 0.1 s apart;
#                      default 300) until the Python expression COND holds
#                      for one of them; 0 if it did, 1 (and the last JSON
#                      on stderr) if not. In COND: j (the refresh), dom(NAME)
#                      (its domain, or None), be(PROG) (its backend, or None).
#   top_get EXPR       one refresh, EXPR's value printed
TOP_PY='
import json, sys
def mk(j):
    def dom(name):
        for d in j["domains"]:
            if d["name"] == name:
                return d
        return None
    def be(prog):
        for b in j["backends"]:
            if b["prog"] == prog:
                return b
        return None
    return {"j": j, "dom": dom, "be": be}
'
top_wait() {
	local cond=$1 n=${2:-300}
	"$PVIO" top --json --iterations "$n" --delay 0.1 2>/dev/null | python3 -c "$TOP_PY
cond = sys.argv[1]
last = None
for line in sys.stdin:
    j = json.loads(line)
    last = line
    try:
        ok = eval(cond, mk(j))
    except (KeyError, TypeError, IndexError):
        ok = False
    if ok:
        sys.exit(0)
sys.stderr.write('top_wait: never true: %s\nlast: %s' % (cond, last))
sys.exit(1)
" "$cond"
}
top_get() {
	"$PVIO" top --json --iterations 1 2>/dev/null | python3 -c "$TOP_PY
j = json.loads(sys.stdin.readline())
print(eval(sys.argv[1], mk(j)))
" "$1"
}
