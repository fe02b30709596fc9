#!/usr/bin/env bash
# test/bench/joint_train.sh — joint_train between two local clusters
# (`make bench-train`).
#
# Synthetic credit data (python3, fixed seed): BENCH_TRAIN_ROWS training
# borrowers (default 100 000) and BENCH_TRAIN_HOLDOUT holdout borrowers
# (default 20 000); the bureau holds 16 correlated Gaussian columns, the
# bank 4 of its own and the 0/1 label, drawn from a logistic model of all
# 20.  Prints, in one run:
#   - joint_train's wall time for BENCH_TRAIN_EPOCHS epochs (default 10) of
#     16 bureau + 4 bank features (goal <= 120 s on 2 cores);
#   - the bytes on the wire (the asker's audit row), per row and epoch (goal
#     about 3 KB or less);
#   - the holdout AUC of the model, scored THROUGH joint_score with the
#     returned jsonb, against scikit-learn's LogisticRegression (defaults)
#     trained on the same joined rows (goal: within 0.005);
#   - the same run through test/tools/link_relay.pl (BENCH_LINK_MBIT Mbit/s,
#     default 100, BENCH_LINK_DELAY_MS one way, default 10; goal <= 300 s).
#
# Knobs: BENCH_TRAIN_OPTIONS (joint_train's options, default {"epochs": N}),
# BENCH_TRAIN_SKIP_LINK=1 (loopback only), BENCH_GOV_PORT, BENCH_BANK_PORT,
# BENCH_LINK_PORT, PGPRIV_KEEP=1.
#
# Needs pgpriv installed (make install) and python3-sklearn (installed here
# with apt-get when missing).  Run as root or as a user that can run initdb.
set -euo pipefail
. "$(dirname "$0")/pair.sh"

ROWS=${BENCH_TRAIN_ROWS:-100000}
HOLD=${BENCH_TRAIN_HOLDOUT:-20000}
EPOCHS=${BENCH_TRAIN_EPOCHS:-10}
OPTIONS=${BENCH_TRAIN_OPTIONS:-"{\"epochs\": $EPOCHS}"}
bench_ports 55493 link
PY=/usr/bin/python3

if ! $PY -c 'import sklearn' 2>/dev/null; then
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-sklearn >/dev/null
fi

bench_pair bench-train

# The data: bureau.csv (code, x1..x16), loans.csv (code, y, a1..a4), holdout.csv (code, a1..a4).
mkdir -p "$work/data"
$PY - "$work/data" "$ROWS" "$HOLD" <<'PY'
import sys, numpy as np
d, n, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(20261203)
N = n + h
L = np.eye(20) + 0.3 * rng.standard_normal((20, 20)) * (rng.random((20, 20)) < 0.2)
X = rng.standard_normal((N, 20)) @ L.T
scale = rng.uniform(0.5, 50, 20)
shift = rng.uniform(-100, 100, 20)
X = np.round(X * scale + shift, 4)
beta = rng.standard_normal(20) * 0.6 / scale
z = -1.0 + (X - shift) @ beta
y = (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
codes = np.array(['B%07d' % i for i in range(N)])
with open(d + '/bureau.csv', 'w') as f:
    for i in range(N):
        f.write(codes[i] + ',' + ','.join('%.4f' % v for v in X[i, :16]) + '\n')
with open(d + '/loans.csv', 'w') as f:
    for i in range(n):
        f.write(codes[i] + ',' + str(y[i]) + ',' + ','.join('%.4f' % v for v in X[i, 16:]) + '\n')
with open(d + '/holdout.csv', 'w') as f:
    for i in range(n, N):
        f.write(codes[i] + ',' + ','.join('%.4f' % v for v in X[i, 16:]) + ',' + str(y[i]) + '\n')
PY
chmod -R a+r "$work/data"

xcols=$(seq -s, -f 'x%g' 1 16)
xdefs=$(seq -s, -f 'x%g numeric' 1 16)
bench_peers bank_zs
gov <<SQL
CREATE TABLE bureau (code text, $xdefs);
\copy bureau FROM '$work/data/bureau.csv' CSV
SELECT pgpriv.publish('bureau', 'SELECT code, $xcols FROM public.bureau', 'code');
SELECT pgpriv.permit('bureau', 'bank_zs', 'train', '{$xcols}', min_group => 100);
SELECT pgpriv.permit('bureau', 'bank_zs', 'mpc', '{$xcols}');
SQL
bank <<SQL
CREATE TABLE loans (code text, y int, a1 numeric, a2 numeric, a3 numeric, a4 numeric);
\copy loans FROM '$work/data/loans.csv' CSV
CREATE TABLE holdout (code text, a1 numeric, a2 numeric, a3 numeric, a4 numeric, y int);
\copy holdout FROM '$work/data/holdout.csv' CSV
SQL

run_train() {
	local server=$1
	bank <<SQL 2>/dev/null
SELECT 't0=' || extract(epoch FROM clock_timestamp());
DROP TABLE IF EXISTS model;
CREATE TABLE model AS SELECT pgpriv.joint_train('$server', 'bureau', 'SELECT code, y, a1, a2, a3, a4 FROM loans', 'y', '$OPTIONS') AS m;
SELECT 't1=' || extract(epoch FROM clock_timestamp());
SELECT 'bytes=' || (bytes_in + bytes_out) FROM pgpriv.audit WHERE capability = 'train' AND side = 'asker' ORDER BY id DESC LIMIT 1;
$(hwm_sql bank_hwm_kb)
SQL
}
scores() {
	bank -c "COPY (SELECT s.key, s.score, h.y FROM pgpriv.joint_score('gov', 'bureau',
	           'SELECT code, a1, a2, a3, a4, 1 AS intercept FROM holdout', (SELECT m FROM model)) AS s
	           JOIN holdout AS h ON h.code = s.key) TO STDOUT CSV" > "$work/data/scores.csv"
}
auc_py() {
	$PY - "$work/data" <<'PY'
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
bx = {}
for line in open(d + '/bureau.csv'):
    p = line.rstrip('\n').split(',')
    bx[p[0]] = [float(v) for v in p[1:]]
Xt, yt = [], []
for line in open(d + '/loans.csv'):
    p = line.rstrip('\n').split(',')
    Xt.append(bx[p[0]] + [float(v) for v in p[2:]]); yt.append(int(p[1]))
Xh, yh = [], []
for line in open(d + '/holdout.csv'):
    p = line.rstrip('\n').split(',')
    Xh.append(bx[p[0]] + [float(v) for v in p[1:5]]); yh.append(int(p[5]))
clf = LogisticRegression(max_iter=1000).fit(np.array(Xt), np.array(yt))
auc_sk = roc_auc_score(yh, clf.decision_function(np.array(Xh)))
s = np.loadtxt(d + '/scores.csv', delimiter=',', usecols=(1, 2))
print('auc_sk=%.5f' % auc_sk)
print('auc_jt=%.5f' % roc_auc_score(s[:, 1], s[:, 0]))
print('scored=%d' % len(s))
PY
}

echo "load: $(uptime)"
eval "$(run_train gov | grep -E '^[a-z_0-9]+=' | sed -E "s/^([a-z_0-9]+)=(.*)$/\1='\2'/")"
wall=$(calc "$t1 - $t0")
scores
eval "$(auc_py)"
printf '\njoint_train, %d training rows x 20 features (16 bureau + 4 bank), %s, holdout %d rows\n' "$ROWS" "$OPTIONS" "$HOLD"
printf '  loopback  wall %7.2f s (goal <= 120)   bytes on the wire %s = %.0f per row per epoch (goal <= ~3000); asker peak memory %s kB\n' \
	"$wall" "$bytes" "$(calc "$bytes / $ROWS / $EPOCHS")" "$bank_hwm_kb"
printf '  holdout AUC through joint_score %.5f   scikit-learn LogisticRegression %.5f   difference %.5f (goal <= 0.005); %d rows scored\n' \
	"$auc_jt" "$auc_sk" "$(calc "$auc_jt - $auc_sk")" "$scored"

[ "${BENCH_TRAIN_SKIP_LINK:-}" = 1 ] && exit 0
link_start "$LINK_PORT" "$GOV_PORT"
eval "$(run_train gov_link | grep -E '^[a-z_0-9]+=' | sed -E "s/^([a-z_0-9]+)=(.*)$/\1='\2'/")"
link=$(calc "$t1 - $t0")
printf '  %s (link_relay.pl): wall %7.2f s (goal <= 300; the bytes alone take %.1f s at that rate)\n' \
	"$(link_label)" "$link" "$(calc "$bytes * 8 / ($LINK_MBIT * 1000000)")"
echo "load: $(uptime)"
